from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"

    def ready(self) -> None:
        from accounts.services import erasure_listener_register
        from segments.services.erasure import person_erase_list_memberships

        # accounts erases a person without importing segments; the Brevo lists follow here.
        erasure_listener_register(person_erase_list_memberships)
