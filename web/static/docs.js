/* /docs: Swagger UI over /openapi.json, started from a file (the CSP allows no inline script). */
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  window.addEventListener("DOMContentLoaded", () => {
    window.SwaggerUIBundle({ url: root.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true });
  });
})();
