"""`manage.py simulate PROGRAM`: one JSON object per input line on stdin → one per output
line on stdout, computed by the same rule functions as the batch, with the program's
parameters in force (the built-in defaults where the database has none). `simulate exemption`
checks an exemption declaration (DOMAIN §7) with the function the declaration form uses."""

import json
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from eligibility.rules.simulate import PROGRAMS, WITHOUT_PARAMETERS, simulate_line
from eligibility.selectors import simulation_params


class Command(BaseCommand):
    help = "判定ルールのシミュレーション（標準入力の1行1JSON → 標準出力の1行1JSON）"

    def add_arguments(self, parser):
        parser.add_argument("program", help=f"one of: {', '.join(sorted(PROGRAMS))}")
        parser.add_argument("--on", type=date.fromisoformat, default=None,
                            help="the parameters in force on this date YYYY-MM-DD (default: today)")

    def handle(self, *args, program, on=None, **options):
        if program not in PROGRAMS:
            raise CommandError(f"unknown program {program!r}; choose from {', '.join(sorted(PROGRAMS))}")
        params = None if program in WITHOUT_PARAMETERS else simulation_params(program, on=on)
        for line in sys.stdin:
            if not line.strip():
                continue
            result = simulate_line(program, line, params)
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            self.stdout.flush()
