import django_rq


def test_run_jobs_counts(run_jobs):
    q = django_rq.get_queue("default")
    q.enqueue("builtins.len", [1, 2])
    q.enqueue("builtins.len", [1])
    assert run_jobs() == 2
    assert run_jobs() == 0
