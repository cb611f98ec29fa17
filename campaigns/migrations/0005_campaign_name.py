import re

from django.db import migrations, models

# A frozen copy of campaigns.content.readable_subject's rule (migrations do not import app code):
# `{{ first_name }}` -> "[first name]", `{{ first_name | default:"friend" }}` -> "friend".
_PLACEHOLDER = re.compile(r"""\{\{\s*(\w+)\s*(?:\|\s*default\s*:\s*(?:"([^"]*)"|'([^']*)')\s*)?\}\}""")


def _readable(subject: str) -> str:
    def word(found: re.Match[str]) -> str:
        default = found.group(2) if found.group(2) is not None else found.group(3)
        return default if default is not None else f"[{found.group(1).replace('_', ' ')}]"

    return _PLACEHOLDER.sub(word, subject).strip()[:200]


def name_existing_campaigns(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    for campaign in Campaign.objects.filter(name="").only("pk", "subject").iterator():
        Campaign.objects.filter(pk=campaign.pk).update(name=_readable(campaign.subject))


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_machine_opens"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="name",
            field=models.CharField(
                blank=True, help_text="Only staff see it. Empty: taken from the subject.", max_length=200
            ),
        ),
        migrations.AlterField(
            model_name="campaign",
            name="subject",
            field=models.CharField(help_text="What recipients see in their inbox.", max_length=255),
        ),
        migrations.RunPython(name_existing_campaigns, migrations.RunPython.noop),
    ]
