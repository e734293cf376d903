"""The rush before a deadline: many changes a second must not queue one re-determination
each (the worker would fall ever further behind). While one task is queued and not started,
a change queues nothing more: that task reads every pending facility when it starts. Checked
against the real broker and a shared Redis cache (in CI a missing service fails the test)."""

import os

import pytest
import redis
from django.test import override_settings

from eligibility import services, tasks
from eligibility.models import PendingDetermination
from portal.celery import app as celery_app
from tests.conftest import services_required
from tests.factories import FacilityFactory


@pytest.fixture
def broker():
    url = os.environ.get("CELERY_BROKER_URL")
    if not url:
        if services_required():
            pytest.fail("CELERY_BROKER_URL is not set: CI must run against the real service")
        pytest.skip("CELERY_BROKER_URL not set: runs in CI against the real service")
    client = redis.Redis.from_url(url)
    client.delete("celery")
    celery_app.conf.update(task_always_eager=False, broker_url=url)
    try:
        with override_settings(CACHES={"default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                "KEY_PREFIX": "test-redetermination"}}):
            from django.core.cache import cache

            cache.delete(tasks.QUEUED_FLAG)
            yield client
            cache.delete(tasks.QUEUED_FLAG)
    finally:
        celery_app.conf.update(task_always_eager=True)
        client.delete("celery")


def _queued(client) -> int:
    return client.llen("celery")


@pytest.mark.django_db
def test_changes_while_a_task_is_queued_queue_no_second_one(
        broker, django_capture_on_commit_callbacks):
    facilities = [FacilityFactory(kind="judo") for _ in range(3)]
    for facility in facilities:  # three changes, each committed
        with django_capture_on_commit_callbacks(execute=True):
            services.request_redetermination([facility.pk])
    assert _queued(broker) == 1
    assert PendingDetermination.objects.count() == 3  # every change is kept for the task

    # The worker starts the task: the flag is cleared before it reads the pending rows, so
    # a change from now on queues the next task.
    tasks.redetermine_pending.apply()
    assert PendingDetermination.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.request_redetermination([facilities[0].pk])
    assert _queued(broker) == 2


@pytest.mark.django_db
def test_a_change_that_could_not_be_queued_leaves_no_flag(
        broker, monkeypatch, django_capture_on_commit_callbacks):
    """The broker refused the message: the next change tries again instead of trusting a
    task that does not exist."""
    facility = FacilityFactory(kind="judo")

    def refused(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.redetermine_pending, "delay", refused)
    with pytest.raises(ConnectionError), django_capture_on_commit_callbacks(execute=True):
        services.request_redetermination([facility.pk])
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_redetermination([facility.pk])
    assert _queued(broker) == 1


@pytest.mark.django_db
def test_without_a_shared_cache_every_change_queues_its_task(
        broker, django_capture_on_commit_callbacks):
    facilities = [FacilityFactory(kind="judo") for _ in range(2)]
    with override_settings(CACHES={"default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        for facility in facilities:
            with django_capture_on_commit_callbacks(execute=True):
                services.request_redetermination([facility.pk])
    assert _queued(broker) == 2
