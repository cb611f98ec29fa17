"""Read by gunicorn from the working directory: its own lines (start, workers, signals) in the
project's log format, so LOG_FORMAT=json makes every line of the web process JSON.

Requests are logged by the app (config.observability.RequestLogMiddleware, probes left out), so
gunicorn's access log stays silent.
"""

from pathlib import Path

import environ

from config.observability import logging_config

env = environ.Env()
environ.Env.read_env(Path(__file__).resolve().parent / ".env", overwrite=False)

_project = logging_config(log_format=env.str("LOG_FORMAT", default="plain"), level=env.str("LOG_LEVEL", default="INFO"))
logconfig_dict = {
    **_project,
    "loggers": {
        **_project["loggers"],
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}

# gunicornc is not used here; its socket sits at one fixed path per user ($HOME/.gunicorn), which
# every other gunicorn of that user (another checkout, a parallel test run) would take over.
control_socket_disable = True
