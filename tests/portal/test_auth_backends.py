"""portal/auth_backends.py: a user's permissions in one query, the same as Django's
ModelBackend reads them in two, and nobody signed in by it."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal import roles
from portal.auth_backends import PermissionsInOneQuery
from portal.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _fresh(user) -> User:
    return User.objects.get(pk=user.pk)  # no permission cached on it


def _users() -> list[User]:
    roles.sync_roles()
    plain = UserFactory()
    direct = UserFactory(is_staff=True)
    direct.user_permissions.add(*Permission.objects.filter(codename__startswith="view_")[:3])
    grouped = UserFactory(is_staff=True)
    grouped.groups.add(*Group.objects.filter(name__in=list(roles.ROLES)[:2]))
    both = UserFactory(is_staff=True)
    both.groups.add(Group.objects.get(name=list(roles.ROLES)[0]))
    both.user_permissions.add(Permission.objects.get(codename="change_group"))
    superuser = UserFactory(is_staff=True, is_superuser=True)
    inactive = UserFactory(is_active=False)
    inactive.groups.add(Group.objects.get(name=list(roles.ROLES)[0]))
    return [plain, direct, grouped, both, superuser, inactive]


def test_the_permissions_are_those_django_reads():
    for user in _users():
        expected = ModelBackend().get_all_permissions(_fresh(user))
        assert PermissionsInOneQuery().get_all_permissions(_fresh(user)) == expected, user
    assert any(ModelBackend().get_all_permissions(_fresh(user)) for user in _users())
    assert PermissionsInOneQuery().get_all_permissions(AnonymousUser()) == set()


def test_one_query_for_a_request_whatever_the_backends_after_it_ask():
    *_, both, _superuser, _inactive = _users()
    through_group = next(iter(ModelBackend().get_group_permissions(_fresh(both))))
    user = _fresh(both)
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("auth.change_group")  # its own
        assert user.has_perm(through_group)
        assert not user.has_perm("payouts.release_payoutrun")
        assert user.has_module_perms("auth")
        user.get_all_permissions()
    assert len(queries) == 1, [query["sql"] for query in queries]


def test_it_signs_nobody_in_the_next_backends_do():
    user = UserFactory()
    assert PermissionsInOneQuery().authenticate(None, username=user.email,
                                                password=PASSWORD) is None
    signed_in = authenticate(None, email=user.email, password=PASSWORD)
    assert signed_in == user
    assert signed_in.backend != "portal.auth_backends.PermissionsInOneQuery"
