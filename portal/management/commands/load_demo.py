from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from portal.demo import demo_notes, load_demo, served_url


class Command(BaseCommand):
    help = "デモデータを読み込む（何度実行しても重複しない）。ログイン情報を表示する。"

    def handle(self, *args, **options):
        # The demo's own notifications would bury the log-in details; they are not sent.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            # Each app's part (portal/demo.py): facilities, their facts and results, grants.
            logins = load_demo()
        self.stdout.write("デモデータを読み込みました。ログイン情報（実行のたびにパスワードを再設定）:")
        for login in logins:
            self.stdout.write(
                f"  {login.role:<12} {login.email:<24} パスワード: {login.password}  施設: {login.facility}"
            )
            if login.invitation:
                self.stdout.write(f"    二段階認証の設定（招待リンク）: {login.invitation}")
        for line in demo_notes():
            self.stdout.write(line)
        url = served_url()
        self.stdout.write(f"ポータル: {url}  管理画面: {url}admin/")
        self.stdout.write(
            "管理画面は二段階認証が必須です。管理者は、上の招待リンクを開いてパスワードを入力し、"
            "認証アプリ（TOTP）を設定してから使います（リンクは1回限り、実行のたびに新しくなります。"
            "設定済みの管理者には表示しません）。")
