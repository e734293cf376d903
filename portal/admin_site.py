"""The administrators' site: the menu ordered by daily work (審査 first, schedules and
accounts last), Japanese headings, and no navigation sidebar (it squeezed list columns)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

from .admin_history import with_merged_history
from .admin_masking import guarded_admin_class, redact_access_logs
from .admin_queues import work_queue
from .admin_values import with_formatted_values

# (heading, [app_label.model_name, ...]) in the order administrators use them.
SECTIONS: list[tuple[str, list[str]]] = [
    ("審査", ["facilities.usageapplication", "subsidies.claim", "subsidies.document"]),
    ("施設", ["facilities.facility", "facilities.membership", "facilities.deviceaccount",
             "facilities.golive", "facilities.activity", "facilities.linkrequest",
             "facilities.linkattempt"]),
    ("義務化・やむを得ない事由", ["obligation.exemptiondeclaration", "obligation.compliancestatus",
                        "obligation.followupstep", "obligation.letterbatch",
                        "obligation.annexpairing", "obligation.surveyanswer",
                        "obligation.sessionrequest"]),
    ("協力金・一時金", ["eligibility.determination", "eligibility.adjustment",
                   "eligibility.activityreport",
                   "eligibility.attestation", "eligibility.eligibilityrun"]),
    ("支払", ["payouts.payoutrun", "payouts.paymentline", "payouts.recovery",
            "payouts.bankaccount", "payouts.consignor"]),
    ("制度・マスタ・取り込み", ["eligibility.program", "eligibility.parameterversion",
                       "eligibility.monthlystatistic", "subsidies.freereadergrant",
                       "portal.importjob", "facilities.publiclistbuild",
                       "portal.contactpoint"]),
    ("窓口での資格確認", ["cardreader.confirmation", "cardreader.insuredperson",
                   "cardreader.trustedissuer", "cardreader.revocationlist"]),
    ("アカウント", ["portal.user", "auth.group", "account.emailaddress", "mfa.authenticator"]),
    ("定期実行", ["django_celery_beat.periodictask", "django_celery_beat.crontabschedule",
              "django_celery_beat.intervalschedule", "django_celery_beat.clockedschedule",
              "django_celery_beat.solarschedule"]),
]


class PortalAdminSite(admin.AdminSite):
    site_header = "オンライン資格確認ポータル 管理"
    site_title = "ポータル管理"
    index_title = "管理メニュー"
    enable_nav_sidebar = False

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin of the site guards the masked fields (portal/admin_masking.py), and its
        履歴 page reads every audit trail of the object (portal/admin_history.py); amounts and
        months are shown formatted (portal/admin_values.py)."""
        admin_class = with_formatted_values(with_merged_history(
            guarded_admin_class(admin_class or admin.ModelAdmin)))
        super().register(model_or_iterable, admin_class, **options)

    def index(self, request, extra_context=None):
        """The menu, under what waits for this officer (portal/admin_queues.py)."""
        extra_context = {**(extra_context or {}), "work_queue": work_queue(request.user)}
        return super().index(request, extra_context)

    def each_context(self, request):
        """Django puts the whole menu (`available_apps`) in every admin page's context for
        the navigation sidebar, which this site does not show: building it (every model's
        permissions and URLs) was about a third of an ordinary admin page's time. Here it is
        built only if a template reads it; the index builds its own list (`app_list`)."""
        request._portal_menu_deferred = True
        try:
            context = super().each_context(request)
        finally:
            del request._portal_menu_deferred
        context["available_apps"] = lambda: self.get_app_list(request)
        return context

    def get_app_list(self, request, app_label=None):
        if getattr(request, "_portal_menu_deferred", False):
            return []  # each_context's eager copy (above), replaced by a lazy one
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        models = {f"{app['app_label']}.{m['object_name'].lower()}": (app, m)
                  for app in apps for m in app["models"]}
        sections = []
        for heading, names in SECTIONS:
            found = [models.pop(name) for name in names if name in models]
            if found:
                first_app = found[0][0]
                sections.append({**first_app, "name": heading,
                                 "models": [model for _app, model in found]})
        if models:  # anything not placed above, still reachable
            sections.append({"name": "その他", "app_label": "other", "app_url": "",
                             "has_module_perms": True,
                             "models": [model for _app, model in models.values()]})
        return sections


class PortalAdminConfig(AdminConfig):
    """In INSTALLED_APPS instead of django.contrib.admin: `admin.site` is the site above."""

    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self):
        super().ready()
        redact_access_logs()  # admin query strings carry what was typed into lookups
