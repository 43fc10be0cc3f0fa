// Starts Swagger UI on /docs from a file, not an inline script (Content-Security-Policy).
window.addEventListener("load", function () {
  var container = document.getElementById("swagger-ui-container");
  var config = JSON.parse(container.getAttribute("data-config") || "{}");
  config.url = container.getAttribute("data-spec-url");
  config.dom_id = "#swagger-ui-container";
  window.ui = SwaggerUIBundle(config);
});
