// Starts Swagger UI on this server's own document. Kept out of index.html because the
// Content-Security-Policy allows no inline script; validatorUrl is null so the page
// never contacts the public validator.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/v1/openapi.json",
    dom_id: "#reference",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
