import time

from django.core.management.base import BaseCommand, CommandError

from eligibility.dataset import generate_dataset


class Command(BaseCommand):
    help = "合成の全国データセットを作る（施設・併設・運用開始日・報告・口座・11か月分の統計）"

    def add_arguments(self, parser):
        parser.add_argument("--facilities", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, facilities: int, seed: int, **options):
        if not 1 <= facilities <= 2_000_000:
            raise CommandError("--facilities は 1〜2,000,000 です")
        started = time.perf_counter()
        counts = generate_dataset(facilities=facilities, seed=seed)
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        self.stdout.write(f"generated in {elapsed:.1f}s: {summary}")
