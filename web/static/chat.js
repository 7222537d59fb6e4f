/* exosome-qa chat: asks POST /api/ask, renders answers with the same markup as web/templates/_macros.html,
   opens cited passages in the source panel, keeps the thread in localStorage.
   Every piece of user or paper text goes into the page as text (textContent / text nodes), never as HTML. */
(function () {
  "use strict";

  const STORE_KEY = "exosome-qa:thread:v1";
  const MAX_TURNS = 50;
  const HISTORY_TURNS = 20;
  // The same pattern as qa.text.REF_BRACKET: the papers' own bracketed reference numbers.
  const REF_BRACKET = /\[\s*(\d+(?:\s*[-–]\s*\d+)?(?:\s*,\s*\d+(?:\s*[-–]\s*\d+)?)*)\s*\]/g;

  const $ = (id) => document.getElementById(id);
  const layout = $("chat");
  const thread = $("thread");
  const form = $("ask-form");
  const input = $("q");
  const askButton = $("ask-button");
  const intro = $("intro");
  const bar = $("thread-bar");
  const status = $("status");
  const panel = $("source-panel");
  if (!layout || !thread || !form || !input) return;

  /** @type {{question: string, data: object}[]} */
  let turns = [];
  let busy = false;
  let lastTrigger = null;

  // ---- building DOM safely ------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child)); // strings become text nodes
    }
    return node;
  }

  const capitalize = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1).toLowerCase() : s);
  const refUrl = (doc, n) => `/refs/${encodeURIComponent(doc)}/${n}`;
  const docUrl = (doc) => `/documents/${encodeURIComponent(doc)}`;

  /** Text with each bracketed reference number linked to its reference page (as the link_refs filter). */
  function linkRefs(text, doc) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const match of String(text).matchAll(REF_BRACKET)) {
      frag.append(text.slice(last, match.index));
      const bracket = match[0];
      const span = el("span", { class: "refs" });
      let at = 0;
      for (const number of bracket.matchAll(/\d+/g)) {
        span.append(bracket.slice(at, number.index), el("a", { class: "ref", href: refUrl(doc, number[0]) }, number[0]));
        at = number.index + number[0].length;
      }
      span.append(bracket.slice(at));
      frag.append(span);
      last = match.index + bracket.length;
    }
    frag.append(String(text).slice(last));
    return frag;
  }

  /** A quoted sentence, or a table row as labelled cells (as the rich macro). */
  function rich(text, doc, kind) {
    if (kind !== "table_row") return linkRefs(text, doc);
    const frag = document.createDocumentFragment();
    String(text).split(" | ").forEach((segment, i) => {
      if (i) frag.append(el("span", { class: "sep" }, " | "));
      const cut = segment.indexOf(": ");
      if (cut >= 0) {
        frag.append(el("span", { class: "cell" },
          el("span", { class: "cell-key" }, segment.slice(0, cut) + ":"), " ",
          el("span", { class: "cell-value" }, linkRefs(segment.slice(cut + 2), doc))));
      } else {
        frag.append(el("span", { class: "cell" }, linkRefs(segment, doc)));
      }
    });
    return frag;
  }

  function docShort(doc) {
    const m = /^(.+?)(\d{4})$/.exec(doc);
    return m ? `${capitalize(m[1])} ${m[2]}` : doc;
  }

  function confidence(value, band) {
    const v = Number(value) || 0;
    // The band comes from the server, where it is fitted (see Abstainer.level).
    const level = ["high", "medium", "low"].includes(band) ? band : "low";
    return el("span", {
      class: `confidence confidence-${level}`,
      title: "How sure the assistant is that the quoted text answers the question (0 to 1)",
    },
    el("meter", { class: "confidence-bar", min: 0, max: 1, value: v, "aria-hidden": "true" }),
    el("span", { class: "confidence-label" }, `${capitalize(level)} confidence`), " ",
    el("span", { class: "confidence-value" }, v.toFixed(2)));
  }

  // ---- answers (mirrors the answer_block and turn macros) ----------------------------------

  function answerBlock(data, permalink) {
    if (data.abstained) {
      const passages = (data.passages || []).slice(0, 4);
      return el("section", { class: "answer abstained", "aria-label": "Answer" },
        el("div", { class: "abstention" },
          el("p", { class: "abstention-badge" }, el("span", { "aria-hidden": "true" }, "∅"), " Not answered by the reviews"),
          el("p", { class: "abstention-text" }, data.answer)),
        passages.length ? [
          el("h3", { class: "small-title" }, "Nearest passages"),
          el("ul", { class: "nearest" }, passages.map((p) => el("li", {},
            el("a", { href: p.url },
              el("span", { class: "nearest-where" }, `${docShort(p.doc)} · ${p.section}`),
              el("span", { class: "nearest-text" }, p.text))))),
        ] : null,
        el("div", { class: "answer-meta" }, confidence(data.confidence, data.confidence_level)));
    }

    const citations = data.citations || [];
    const quotes = (data.sentences || []).map((s) => {
      const c = citations[s.citation - 1] || {};
      return el("p", { class: c.kind === "table_row" ? "quote quote-row" : "quote", "data-for": s.citation },
        el("span", { class: "quote-text" }, rich(s.text, c.doc, c.kind)), " ",
        el("a", { class: "chip", href: c.url, "data-citation": s.citation,
                  "aria-label": `Source ${s.citation}: ${c.label || c.section}` },
          el("span", { class: "chip-bracket" }, "["), String(s.citation), el("span", { class: "chip-bracket" }, "]")));
    });

    const seen = new Set();
    const papers = [];
    for (const c of citations) {
      if (seen.has(c.doc)) continue;
      seen.add(c.doc);
      papers.push(el("span", { class: "cite-paper" },
        el("span", { class: "cite-paper-title" }, c.doc_title), " ",
        el("span", { class: "cite-formats" },
          el("a", { href: `/api/documents/${encodeURIComponent(c.doc)}/cite.bib`, download: true }, "BibTeX"), " ",
          el("a", { href: `/api/documents/${encodeURIComponent(c.doc)}/cite.ris`, download: true }, "RIS"))));
    }

    return el("section", { class: "answer", "aria-label": "Answer" },
      el("div", { class: "quotes" }, quotes),
      el("div", { class: "answer-meta" }, confidence(data.confidence, data.confidence_level), " ",
        el("span", { class: "answer-actions" },
          el("button", { type: "button", class: "link-button copy-answer" }, "Copy answer with references"),
          permalink ? el("a", { class: "permalink", href: `/?q=${encodeURIComponent(data.question)}` }, "Link to this answer") : null)),
      el("footer", { class: "sources" },
        el("h3", { class: "small-title" }, "Sources"),
        el("ol", { class: "citations" }, citations.map((c) => el("li", { class: "citation" },
          el("a", { class: "citation-n", href: c.url, "data-citation": c.n, "aria-label": `Show source ${c.n}` }, String(c.n)),
          " ",
          el("span", { class: "citation-body" },
            el("a", { class: "citation-doc", href: c.url }, c.doc_title), " ",
            el("span", { class: "citation-where" }, c.label || c.section),
            (c.refs || []).length ? el("span", { class: "citation-refs" }, "paper refs ",
              c.refs.map((r, i) => [i ? " " : null, el("a", { class: "ref", href: refUrl(c.doc, r) }, `[${r}]`)])) : null)))),
        el("p", { class: "cite-papers" },
          el("span", { class: "cite-papers-label" }, `Cite ${papers.length === 1 ? "this paper" : "these papers"}:`), " ",
          papers)));
  }

  function turnElement(data, index) {
    return el("article", { class: "turn", "data-turn": index },
      el("div", { class: "question" }, el("p", { class: "question-text" }, data.question)),
      answerBlock(data, index === 0));
  }

  function pendingTurn(question) {
    return el("article", { class: "turn turn-pending", "aria-busy": "true" },
      el("div", { class: "question" }, el("p", { class: "question-text" }, question)),
      el("section", { class: "answer pending", "aria-label": "Waiting for the answer" },
        el("p", { class: "pending-text" }, "Searching the two reviews…"),
        el("span", { class: "skeleton" }), el("span", { class: "skeleton" }), el("span", { class: "skeleton" })));
  }

  function failedTurn(question, message) {
    return el("article", { class: "turn turn-failed", "data-question": question },
      el("div", { class: "question" }, el("p", { class: "question-text" }, question)),
      el("section", { class: "answer failed", role: "alert", "aria-label": "Error" },
        el("p", { class: "error-title" }, "No answer this time"),
        el("p", { class: "error-text" }, message),
        el("button", { type: "button", class: "button retry" }, "Try again")));
  }

  // ---- the thread, its storage and the page around it -----------------------------------------

  function save() {
    try {
      if (turns.length) localStorage.setItem(STORE_KEY, JSON.stringify({ version: 1, turns: turns.slice(-MAX_TURNS) }));
      else localStorage.removeItem(STORE_KEY);
    } catch (err) {
      /* private mode or full: the thread just won't survive a reload */
    }
  }

  function load() {
    try {
      const stored = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (stored && Array.isArray(stored.turns)) {
        return stored.turns.filter((t) => t && t.data && typeof t.data.answer === "string" && typeof t.question === "string");
      }
    } catch (err) {
      /* unreadable: start afresh */
    }
    return [];
  }

  function render() {
    thread.replaceChildren(...turns.map((t, i) => turnElement(t.data, i)));
  }

  function updateChrome() {
    const hasTurns = thread.children.length > 0;
    intro.hidden = hasTurns;
    bar.hidden = !hasTurns;
    input.placeholder = turns.length ? "Ask a follow-up…" : "Ask about exosomes…";
    const last = turns[turns.length - 1];
    document.title = last ? `${last.question} · exosome-qa` : "exosome-qa";
  }

  function updateUrl() {
    // A one-question conversation has a shareable address; a longer one lives in this browser only.
    const url = turns.length === 1 ? `/?q=${encodeURIComponent(turns[0].question)}` : "/";
    if (location.pathname + location.search !== url) history.replaceState(null, "", url);
  }

  function announce(message) {
    status.textContent = "";
    setTimeout(() => { status.textContent = message; }, 30);
  }

  function setBusy(value) {
    busy = value;
    askButton.disabled = value;
    askButton.textContent = value ? "Asking…" : "Ask";
    form.setAttribute("aria-busy", String(value));
  }

  function scrollToNode(node) {
    const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    node.scrollIntoView({ block: "start", behavior: reduce ? "auto" : "smooth" });
  }

  class ApiError extends Error {}

  async function ask(rawQuestion) {
    const question = String(rawQuestion || "").trim();
    if (busy) return;
    if (!question) {
      announce("Type a question first.");
      input.focus();
      return;
    }
    thread.querySelectorAll(".turn-failed").forEach((n) => n.remove());
    setBusy(true);
    const history = turns.slice(-HISTORY_TURNS).map((t) => ({ question: t.question, answer: t.data.answer }));
    const node = pendingTurn(question);
    thread.append(node);
    updateChrome();
    scrollToNode(node);
    announce("Searching the two reviews…");
    try {
      let response;
      try {
        response = await fetch("/api/ask", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ question, history }),
        });
      } catch (err) {
        throw new ApiError("Couldn’t reach the server. Check your connection and try again.");
      }
      let body = null;
      try {
        body = await response.json();
      } catch (err) {
        body = null;
      }
      if (!response.ok) {
        const message = body && body.error && body.error.message;
        throw new ApiError(message || `The server answered with an error (${response.status}). Please try again.`);
      }
      if (!body || typeof body.answer !== "string" || !Array.isArray(body.sentences)) {
        throw new ApiError("The server sent something that isn’t an answer. Please try again.");
      }
      const index = turns.length;
      turns.push({ question: body.question || question, data: body });
      const done = turnElement(body, index);
      node.replaceWith(done);
      save();
      updateUrl();
      updateChrome();
      announce(body.abstained ? "The reviews do not answer this question." : "Answer ready.");
    } catch (err) {
      const message = err instanceof ApiError ? err.message : "Something went wrong showing the answer. Please try again.";
      if (!(err instanceof ApiError)) console.error(err);
      node.replaceWith(failedTurn(question, message));
      updateChrome();
      announce(message);
    } finally {
      setBusy(false);
    }
  }

  function newConversation() {
    turns = [];
    save();
    closeSource(false);
    thread.replaceChildren();
    updateUrl();
    updateChrome();
    input.value = "";
    input.focus();
    announce("New conversation started.");
  }

  // ---- the source panel -------------------------------------------------------------------

  /** The cited passage with the quoted sentences in <mark>. */
  function markedPassage(citation, quotes) {
    const text = String(citation.text);
    const ranges = [];
    for (const quote of quotes) {
      const at = text.indexOf(quote);
      if (at >= 0) ranges.push([at, at + quote.length]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const merged = [];
    for (const r of ranges) {
      if (merged.length && r[0] <= merged[merged.length - 1][1]) merged[merged.length - 1][1] = Math.max(merged[merged.length - 1][1], r[1]);
      else merged.push(r.slice());
    }
    const frag = document.createDocumentFragment();
    if (citation.kind === "table_row") {
      const [start, end] = merged[0] || [text.length, text.length];
      const head = text.slice(0, start);
      const caption = head.replace(/\s*\|\s*$/, "");
      if (caption) frag.append(el("span", { class: "row-caption" }, linkRefs(caption, citation.doc)), el("span", { class: "sep" }, head.slice(caption.length)));
      if (end > start) frag.append(el("mark", { class: "row-mark" }, rich(text.slice(start, end), citation.doc, "table_row")));
      if (end < text.length) frag.append(rich(text.slice(end), citation.doc, "table_row"));
      return frag;
    }
    let at = 0;
    for (const [start, end] of merged) {
      frag.append(linkRefs(text.slice(at, start), citation.doc), el("mark", {}, linkRefs(text.slice(start, end), citation.doc)));
      at = end;
    }
    frag.append(linkRefs(text.slice(at), citation.doc));
    return frag;
  }

  function turnData(turnNode) {
    const index = Number(turnNode && turnNode.dataset.turn);
    return Number.isInteger(index) && turns[index] ? turns[index].data : null;
  }

  function clearActive() {
    thread.querySelectorAll(".is-active").forEach((n) => n.classList.remove("is-active"));
    thread.querySelectorAll("[aria-expanded]").forEach((n) => n.removeAttribute("aria-expanded"));
  }

  function openSource(turnNode, n, trigger) {
    const data = turnData(turnNode);
    const citation = data && (data.citations || [])[n - 1];
    if (!citation) return false;
    const quotes = (data.sentences || []).filter((s) => s.citation === n).map((s) => s.text);
    $("source-eyebrow").textContent = `Source [${n}]`;
    $("source-title").replaceChildren(el("a", { href: docUrl(citation.doc) }, citation.doc_title));
    $("source-where").textContent = [citation.label, citation.section].filter(Boolean).join(" · ");
    $("source-text").replaceChildren(markedPassage(citation, quotes));
    const refs = citation.refs || [];
    $("source-refs").replaceChildren(...(refs.length
      ? ["The paper’s references here: ", refs.map((r, i) => [i ? " " : null, el("a", { class: "ref", href: refUrl(citation.doc, r) }, `[${r}]`)])].flat(Infinity).filter(Boolean)
      : ["This passage cites none of the paper’s references."]));
    $("source-link").setAttribute("href", citation.url);

    clearActive();
    turnNode.querySelectorAll(`[data-citation="${n}"]`).forEach((node) => {
      node.classList.add("is-active");
      node.setAttribute("aria-expanded", "true");
    });
    turnNode.querySelectorAll(`.quote[data-for="${n}"]`).forEach((node) => node.classList.add("is-active"));
    panel.hidden = false;
    layout.classList.add("has-source");
    lastTrigger = trigger || null;
    panel.scrollTop = 0;
    panel.focus({ preventScroll: true });
    return true;
  }

  function closeSource(restoreFocus) {
    if (panel.hidden) return;
    panel.hidden = true;
    layout.classList.remove("has-source");
    clearActive();
    if (restoreFocus && lastTrigger && document.contains(lastTrigger)) lastTrigger.focus();
    lastTrigger = null;
  }

  // ---- copying ----------------------------------------------------------------------------------

  let documentReferences = null;
  /** The formatted references of the papers an answer cites (from the answer, else from /api/documents). */
  async function referencesOf(data) {
    if (Array.isArray(data.references) && data.references.length) return data.references;
    const docs = [...new Set((data.citations || []).map((c) => c.doc))];
    if (!docs.length) return [];
    if (!documentReferences) {
      try {
        const response = await fetch("/api/documents", { headers: { Accept: "application/json" } });
        const body = response.ok ? await response.json() : { documents: [] };
        documentReferences = Object.fromEntries((body.documents || []).map((d) => [d.id, d.reference]));
      } catch (err) {
        return [];
      }
    }
    return docs.map((d) => documentReferences[d]).filter(Boolean);
  }

  function plainAnswer(data, references) {
    const lines = [`Q: ${data.question}`, "", data.answer, ""];
    const citations = data.citations || [];
    if (citations.length) {
      lines.push("Sources");
      for (const c of citations) {
        const where = c.label ? `${c.label}, ${c.section}` : c.section;
        const refs = (c.refs || []).length ? ` (paper refs ${c.refs.map((r) => `[${r}]`).join(" ")})` : "";
        lines.push(`[${c.n}] ${c.doc_title}, “${where}”${refs}. ${location.origin}${c.url}`);
      }
      lines.push("");
    }
    if (references.length) {
      lines.push("References");
      for (const reference of references) lines.push(reference);
    }
    return lines.join("\n").trim() + "\n";
  }

  // ---- events ----------------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    const question = input.value;
    if (question.trim()) input.value = "";
    ask(question);
  });

  intro.addEventListener("click", (event) => {
    const example = event.target.closest("a.example");
    if (!example || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    ask(example.dataset.question || example.textContent);
  });

  thread.addEventListener("click", (event) => {
    const chip = event.target.closest("a[data-citation]");
    if (chip && !(event.ctrlKey || event.metaKey || event.shiftKey)) {
      if (openSource(chip.closest(".turn"), Number(chip.dataset.citation), chip)) event.preventDefault();
      return;
    }
    const copy = event.target.closest("button.copy-answer");
    if (copy) {
      const data = turnData(copy.closest(".turn"));
      if (data) referencesOf(data).then((refs) => window.QA.copyWithToast(plainAnswer(data, refs), "Answer with references"));
      return;
    }
    const retry = event.target.closest("button.retry");
    if (retry) {
      const failed = retry.closest(".turn-failed");
      const question = failed.dataset.question;
      failed.remove();
      ask(question);
    }
  });

  $("new-conversation").addEventListener("click", (event) => {
    event.preventDefault();
    newConversation();
  });

  $("source-close").addEventListener("click", () => closeSource(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      closeSource(true);
    }
  });

  // The header's JSON link: the chat's JSON twin is POST /api/ask, so show the latest answer's JSON.
  const jsonLink = document.querySelector("a.json-link[data-json-twin]");
  if (jsonLink) {
    jsonLink.addEventListener("click", (event) => {
      const last = turns[turns.length - 1];
      if (!last) return;
      event.preventDefault();
      const blob = new Blob([JSON.stringify(last.data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      window.open(url, "_blank");
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    });
  }

  // ---- start: enhance the server's answer, or restore the stored thread ---------------------------

  const serverData = $("answer-data");
  if (serverData) {
    try {
      const data = JSON.parse(serverData.textContent);
      turns = [{ question: data.question, data }];
      save();
    } catch (err) {
      turns = [];
    }
  } else {
    turns = load();
    try {
      render();
    } catch (err) {
      console.error("stored conversation unreadable, starting afresh", err);
      turns = [];
      save();
      thread.replaceChildren();
    }
  }
  updateChrome();
  layout.dataset.ready = "true";
})();
