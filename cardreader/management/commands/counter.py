"""python manage.py counter --reader NAME [--pin] --login-id ID [--portal URL] [--agent]

The counter's local side on the facility's PC (cardreader.agent): reads the My Number card on
the reader and shows the insurance qualification the portal confirms, large. With --agent it
waits for the checks staff start on the counter page (カウンター) and does them, the result
showing on that page. The device account's password is read from COUNTER_PASSWORD or asked;
the PIN (PIN mode) is asked when the card is on the reader and never shown or kept.
"""

import getpass
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cardreader import agent, reader
from cardreader.apdu import CardError
from portal.normalize import digits

QUALIFICATION_LABELS = (
    ("name", "氏名"), ("name_kana", "氏名（カナ）"), ("birth_date", "生年月日"),
    ("insurer_number", "保険者番号"), ("symbol", "記号"), ("number", "番号"),
    ("branch", "枝番"), ("copay_ratio", "負担割合"), ("valid_from", "資格取得日"),
    ("valid_to", "有効期限"), ("status", "資格の状態"),
)


def render_answer(answer: dict) -> list[str]:
    """The confirmation as the counter shows it: the status first, the warning if any."""
    qualification = answer.get("qualification", {})
    certificate = answer.get("certificate", {})
    lines = ["=" * 40, f"  資格の状態: {qualification.get('status', '')}", "=" * 40]
    for key, label in QUALIFICATION_LABELS:
        value = qualification.get(key)
        if value in (None, ""):
            continue
        if key == "copay_ratio":
            value = f"{value}割" if isinstance(value, int) and value < 10 else f"{value}%"
        lines.append(f"  {label}: {value}")
    if qualification.get("lost_on"):
        lines.append(f"  資格喪失日: {qualification['lost_on']}")
    if certificate.get("warning"):
        lines += ["", f"  ［ご案内］{certificate['warning']}"]
    return lines


class Command(BaseCommand):
    help = "カードリーダーでマイナ保険証を読み取り、資格を確認します（窓口用）。"

    def add_arguments(self, parser):
        parser.add_argument("--reader", help="カードリーダー名（--list-readers で一覧）")
        parser.add_argument("--list-readers", action="store_true")
        parser.add_argument("--pin", action="store_true",
                            help="暗証番号で本人確認する（省略時は目視確認）")
        parser.add_argument("--login-id", help="資格確認アカウントのID")
        parser.add_argument("--portal", default=getattr(settings, "PORTAL_BASE_URL", "")
                            or "http://127.0.0.1:8000", help="ポータルのURL")
        parser.add_argument("--agent", action="store_true",
                            help="カウンター画面から始めた確認を待って行う")
        parser.add_argument("--wait", type=float, default=reader.DEFAULT_WAIT,
                            help="カードを置くまで待つ秒数")

    def handle(self, *args, **options):
        if options["list_readers"]:
            try:
                names = reader.list_readers()
            except CardError as error:
                raise CommandError(error.message) from None
            for name in names:
                self.stdout.write(name)
            return
        if not options["reader"] or not options["login_id"]:
            raise CommandError("--reader と --login-id を指定してください。")
        password = os.environ.get("COUNTER_PASSWORD") or getpass.getpass(
            "資格確認アカウントのパスワード: ")
        client = agent.PortalClient(options["portal"], options["login_id"], password)

        def ask_pin() -> str:
            return digits(getpass.getpass("暗証番号（数字4桁）を入力してください: "))

        if options["agent"]:
            self.stdout.write("カウンター画面からの確認を待っています（終了は Ctrl+C）。")
            try:
                agent.serve_counter(client, options["reader"], ask_pin,
                                    on_result=self._report, timeout=options["wait"])
            except KeyboardInterrupt:
                self.stdout.write("終了しました。")
            return
        self.stdout.write("カードをカードリーダーに置いてください。")
        try:
            answer = agent.check_card(client, options["reader"],
                                      pin=ask_pin if options["pin"] else None,
                                      timeout=options["wait"])
        except (CardError, agent.AgentError) as error:
            raise CommandError(error.message) from None
        self.stdout.write("\n".join(render_answer(answer)))

    def _report(self, check: dict, answer: dict | None, error: Exception | None) -> None:
        if error is not None:
            self.stderr.write(getattr(error, "message", str(error)))
        elif answer is not None:
            self.stdout.write("\n".join(render_answer(answer)))
