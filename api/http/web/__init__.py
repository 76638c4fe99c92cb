"""The web app: server-rendered pages (Jinja2) and their static assets (CSS, ES modules, the
vendored pdf.js), served by the API's own process."""
