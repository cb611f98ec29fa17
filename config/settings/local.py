"""Development defaults: DEBUG on, a throwaway SECRET_KEY, SQLite and the embedded Redis."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-change-me")
