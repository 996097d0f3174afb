"""The admin app: the dashboard (HTML under /app) and the REST API (/api/v1), behind users and API keys."""
