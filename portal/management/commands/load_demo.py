from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from eligibility.demo import load_demo_incentives
from facilities.demo import DEMO_FACILITIES, load_demo
from facilities.models import Facility
from subsidies.models import FreeReaderGrant


class Command(BaseCommand):
    help = "デモデータを読み込む（何度実行しても重複しない）。ログイン情報を表示する。"

    def handle(self, *args, **options):
        # The demo's own notifications would bury the log-in details; they are not sent.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            logins = load_demo()
            load_demo_incentives()
            # The demo hospital received one face-recognition reader free (§6.3).
            demo_codes = [code for _, code, *_ in DEMO_FACILITIES]
            for hospital in Facility.objects.filter(kind="hospital", code__in=demo_codes):
                FreeReaderGrant.objects.get_or_create(facility=hospital,
                                                      defaults={"free_readers": 1})
        self.stdout.write("デモデータを読み込みました。ログイン情報（実行のたびにパスワードを再設定）:")
        for login in logins:
            self.stdout.write(
                f"  {login.role:<12} {login.email:<24} パスワード: {login.password}  施設: {login.facility}"
            )
            if login.invitation:
                self.stdout.write(f"    二段階認証の設定（招待リンク）: {login.invitation}")
        self.stdout.write("ポータル: http://127.0.0.1:8000/  管理画面: http://127.0.0.1:8000/admin/")
        self.stdout.write(
            "管理画面は二段階認証が必須です。管理者は、上の招待リンクを開いてパスワードを入力し、"
            "認証アプリ（TOTP）を設定してから使います（リンクは1回限り、実行のたびに新しくなります。"
            "設定済みの管理者には表示しません）。")
