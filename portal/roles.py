"""The administrators' roles as Django groups, and what each may do.

Made by a data migration and brought up to date after every `migrate` (post_migrate), so a
permission added by a later migration reaches its role. A staff account's powers come from
its groups only; a superuser is for the people who manage accounts.
"""

from django.contrib.auth.management import create_permissions

REVIEWER = "審査担当"
APPROVER = "決定権者"
PAYOUT_OFFICER = "支払担当"
VIEWER = "閲覧のみ"
SYSTEM_ADMIN = "システム管理"
ROLES = (REVIEWER, APPROVER, PAYOUT_OFFICER, VIEWER, SYSTEM_ADMIN)

# What every administrator may look at (bank accounts masked: the full number is for
# payout officers only).
_VIEW = [
    "facilities.view_facility", "facilities.view_membership",
    "facilities.view_usageapplication", "facilities.view_deviceaccount",
    "facilities.view_golive", "facilities.view_activity", "facilities.view_linkattempt",
    "facilities.view_linkrequest",
    "facilities.view_publiclistbuild",
    "eligibility.view_program", "eligibility.view_parameterversion",
    "eligibility.view_monthlystatistic", "eligibility.view_activityreport",
    "eligibility.view_attestation", "eligibility.view_determination",
    "eligibility.view_eligibilityrun", "eligibility.view_adjustment",
    "subsidies.view_claim", "subsidies.view_claimitem", "subsidies.view_document",
    "subsidies.view_freereadergrant",
    "payouts.view_bankaccount", "payouts.view_payoutrun", "payouts.view_paymentline",
    "payouts.view_recovery", "payouts.view_netting",
    "cardreader.view_trustedissuer", "cardreader.view_confirmation",
    "cardreader.view_revocationlist",
    "obligation.view_exemptiondeclaration", "obligation.view_declaredpractitioner",
    "obligation.view_annexpairing", "obligation.view_surveyanswer",
    "obligation.view_sessionrequest", "obligation.view_compliancestatus",
    "obligation.view_followupstep", "obligation.view_letterbatch",
    "portal.view_contactpoint",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    REVIEWER: [
        *_VIEW,
        "facilities.review_usageapplication",
        "facilities.add_usageapplication",  # paper (郵送) applications
        # First staff of a facility: the letters with their confirmation code; cancelling.
        "facilities.handle_linkrequest",
        "subsidies.review_claim",
        "eligibility.review_adjustment",  # 調整の審査 (docs/domain.md §5.4)
        # The obligation (docs/domain.md §7): declarations, survey answers by post or e-mail,
        # explanation sessions, 併設 corrections and the follow-up ladder with its letters.
        "obligation.review_exemption", "obligation.add_surveyanswer",
        "obligation.change_surveyanswer", "obligation.schedule_session",
        "obligation.manage_annex", "obligation.follow_up", "obligation.add_letterbatch",
    ],
    APPROVER: [*_VIEW, "subsidies.decide_claim", "eligibility.decide_adjustment"],
    PAYOUT_OFFICER: [
        *_VIEW, "subsidies.pay_claim", "eligibility.pay_adjustment",
        "payouts.view_account_number",
        "payouts.add_payoutrun", "payouts.release_payoutrun", "payouts.write_transfer_file",
        "payouts.import_bank_results", "payouts.view_consignor",
        # Adjustments (docs/domain.md §5.4): paid, netted or claimed back by the runs they build;
        # their 返還請求 reminded and their payment confirmed.
        "eligibility.pay_adjustment", "payouts.change_recovery",
    ],
    VIEWER: [*_VIEW],
    SYSTEM_ADMIN: [
        *_VIEW,
        "facilities.add_facility", "facilities.change_facility",
        "facilities.import_facility", "facilities.export_facility",
        "facilities.view_account_last4",  # the link secret: the master's keepers only
        "facilities.add_membership", "facilities.change_membership",
        "facilities.delete_membership",
        "eligibility.change_program", "eligibility.run_program",
        "eligibility.add_parameterversion", "eligibility.change_parameterversion",
        "eligibility.apply_parameterversion",
        "eligibility.add_monthlystatistic", "eligibility.change_monthlystatistic",
        "eligibility.import_monthlystatistic",
        "subsidies.add_freereadergrant", "subsidies.change_freereadergrant",
        "subsidies.delete_freereadergrant",
        "payouts.view_consignor", "payouts.add_consignor", "payouts.change_consignor",
        "portal.add_contactpoint", "portal.change_contactpoint",  # 問い合わせ先 (one row)
        # The counter: the CAs trusted and the insured-person registry (names and birth
        # dates: システム管理 only).
        "cardreader.add_trustedissuer", "cardreader.change_trustedissuer",
        "cardreader.add_revocationlist",  # the CAs' CRLs, uploaded (rows never change)
        "cardreader.view_insuredperson", "cardreader.add_insuredperson",
        "cardreader.change_insuredperson", "cardreader.delete_insuredperson",
        "cardreader.import_insuredperson",
        "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask",
        "django_celery_beat.view_crontabschedule", "django_celery_beat.add_crontabschedule",
        "django_celery_beat.change_crontabschedule",
    ],
}


def sync_roles(apps=None, using: str = "default") -> list[str]:
    """Create the groups and give each exactly its permissions (those that exist yet);
    returns the permissions named that do not exist (a test keeps this empty)."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    for config in apps.get_app_configs():
        stub = apps is not global_apps and getattr(config, "models_module", None) is None
        if stub:  # a migration's app stubs carry no models module; the permissions need one
            config.models_module = True
        create_permissions(config, verbosity=0, using=using, apps=apps)
        if stub:
            config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    missing: list[str] = []
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.using(using).get_or_create(name=role)
        permissions = []
        for name in names:
            app_label, codename = name.split(".", 1)
            found = permission_model.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename).first()
            if found is None:
                missing.append(name)
            else:
                permissions.append(found)
        group.permissions.set(permissions)
    return missing
