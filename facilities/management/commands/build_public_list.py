from django.core.management.base import BaseCommand

from facilities import services


class Command(BaseCommand):
    help = "マイナ保険証利用可能施設の公開リストを今すぐ作り直す（通常は毎週月曜日に自動実行）"

    def handle(self, *args, **options):
        build = services.rebuild_public_list()
        self.stdout.write(f"公開リストを更新しました: {build.entry_count}件")
