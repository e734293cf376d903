from django.core.management.base import BaseCommand, CommandError

from eligibility import services
from eligibility.models import Program


class Command(BaseCommand):
    help = "支給判定バッチを実行する（全ての判定対象プログラム、または --program で1つ）"

    def add_arguments(self, parser):
        parser.add_argument("--program", help="プログラムコード（例: lump-sum-2024）")

    def handle(self, *args, program=None, **options):
        if program:
            try:
                programs = [Program.objects.get(code=program)]
            except Program.DoesNotExist as error:
                codes = ", ".join(Program.objects.values_list("code", flat=True))
                raise CommandError(f"プログラム {program} はありません（あるもの: {codes}）") from error
            runs = [services.run_eligibility(program=p) for p in programs]
        else:
            runs = services.run_all_open_programs()
        for run in runs:
            self.stdout.write(
                f"{run.program.code}: {run.facilities}施設を判定、支給対象 {run.eligible}施設、"
                f"合計 {run.total_amount:,}円（支払処理済みで据え置き {run.skipped_locked}件、"
                f"調整の提案 {run.adjustments_proposed}件）"
            )
