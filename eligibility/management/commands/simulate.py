"""`manage.py simulate PROGRAM`: one JSON object per input line on stdin → one per output
line on stdout, computed by the same rule functions as the batch, with the program's
parameters in force on the date (`--on`, today by default). Where no version covers the date
the command says so and stops (exit code 1): there is no default in code (docs/domain.md §5.4). The
program's kind names its simulate adapter in the program registry (eligibility.engine.REGISTRY).
`simulate exemption` checks an exemption declaration (docs/domain.md §7) with the function the
declaration form uses, under the parameters of the program "obligation" (a name the obligation
app adds, obligation/program.py)."""

import json
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from eligibility.engine import simulate_adapter, simulated_names
from eligibility.rules.simulate import parameter_program, simulate_line
from eligibility.selectors import simulation_params


class Command(BaseCommand):
    help = "判定ルールのシミュレーション（標準入力の1行1JSON → 標準出力の1行1JSON）"

    def add_arguments(self, parser):
        parser.add_argument("program", help="a program code, or exemption")
        parser.add_argument("--on", type=date.fromisoformat, default=None,
                            help="the parameters in force on this date YYYY-MM-DD (default: today)")

    def handle(self, *args, program, on=None, **options):
        adapter = simulate_adapter(program)
        if adapter is None:
            raise CommandError(f"unknown program {program!r}; choose from "
                               f"{', '.join(simulated_names())}")
        on = on or timezone.localdate()
        params = simulation_params(parameter_program(program), on=on)
        if params is None:
            raise CommandError(f"{on:%Y-%m-%d} に適用される {parameter_program(program)} の"
                               "パラメータの版がありません。この日付では判定できません。")
        for line in sys.stdin:
            if not line.strip():
                continue
            result = simulate_line(adapter, line, params)
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            self.stdout.flush()
