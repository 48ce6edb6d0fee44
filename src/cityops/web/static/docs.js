// Start Swagger UI on the local spec; validatorUrl null keeps it from calling an outside validator.
const holder = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: holder.dataset.specUrl,
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: false,
});
