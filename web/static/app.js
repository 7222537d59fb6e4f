/* exosome-qa: small enhancements shared by every page (copying, arriving at a passage). No framework. */
(function () {
  "use strict";

  const root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  /** Put text on the clipboard; resolves true when it worked. */
  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (err) {
      /* fall back below */
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (err) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  let toastTimer = null;
  /** A short message at the bottom of the screen, also read out by screen readers. */
  function toast(message) {
    let node = document.querySelector(".toast");
    if (!node) {
      node = document.createElement("div");
      node.className = "toast";
      node.setAttribute("role", "status");
      document.body.append(node);
    }
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 2200);
  }

  async function copyWithToast(text, what) {
    const ok = await copyText(text);
    toast(ok ? `${what} copied to the clipboard` : "Copying failed: select the text and copy it by hand");
    return ok;
  }

  window.QA = { copyText, copyWithToast, toast };

  function enhance() {
    // Controls that only work with JavaScript are rendered hidden and shown here.
    document.querySelectorAll("[data-js][hidden]").forEach((node) => { node.hidden = false; });

    document.addEventListener("click", (event) => {
      const button = event.target.closest("button.copy-text[data-copy]");
      if (button) copyWithToast(button.dataset.copy, "Reference");
    });

    // On a reference's page, mark that reference wherever the quotes cite it (no inline <style> under the CSP).
    document.querySelectorAll(".page-refs .citing a.ref").forEach((link) => {
      if (link.getAttribute("href") === location.pathname) link.classList.add("is-here");
    });

    // Table column widths come as data (the CSP allows no style attributes); setting them here is allowed.
    document.querySelectorAll("table[data-min-width-ch]").forEach((table) => {
      table.style.minWidth = `${table.dataset.minWidthCh}ch`;
    });
    document.querySelectorAll("col[data-width-percent]").forEach((col) => {
      col.style.width = `${col.dataset.widthPercent}%`;
    });

    // Arriving at /documents/{doc}#p-{id}: highlight the passage and bring it to the middle of the screen.
    if (document.body.classList.contains("page-document")) {
      const arrive = (smooth) => {
        document.querySelectorAll(".passage.is-target").forEach((n) => n.classList.remove("is-target", "arrived"));
        const id = decodeURIComponent(location.hash.slice(1));
        if (!id) return;
        const target = document.getElementById(id);
        if (!target || !target.classList.contains("passage")) return;
        target.classList.add("is-target");
        void target.offsetWidth; // restart the animation
        target.classList.add("arrived");
        if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
        target.focus({ preventScroll: true });
        const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
        target.scrollIntoView({ block: "center", behavior: smooth && !reduce ? "smooth" : "auto" });
      };
      arrive(false);
      window.addEventListener("hashchange", () => arrive(true));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhance);
  else enhance();
})();
