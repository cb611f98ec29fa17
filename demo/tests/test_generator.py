from datetime import UTC, datetime

from demo.generator import demo_users
from demo.rows import demo_email

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_generator_alone_is_deterministic():
    def run():
        return list(demo_users(users=300, seed=5, now=NOW, property_count=5))

    assert run() == run()
    assert [record.user.email for record in run()[:3]] == [demo_email(1), demo_email(2), demo_email(3)]
