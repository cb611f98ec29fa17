from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        # Permissions exist only once migrate has created them app by app, so the role groups are
        # rebuilt after each app's post_migrate (idempotent, a handful of queries).
        post_migrate.connect(_sync_role_groups, dispatch_uid="accounts.role_groups_sync")


def _sync_role_groups(**kwargs: object) -> None:
    from accounts.services import role_groups_sync

    role_groups_sync()
