"""PDF rendering with WeasyPrint from an HTML template; Japanese text uses Noto Sans CJK
(Debian's fonts-noto-cjk), embedded as real text so it can be read aloud and extracted."""

from django.template.loader import render_to_string


def render_pdf(template_name: str, context: dict) -> bytes:
    """Every PDF is given the 問い合わせ先 and the portal's address (portal/contact.py), which
    it prints with `includes/contact.html`."""
    from weasyprint import HTML  # imported late: it loads Pango, not needed by most requests

    from .contact import contact_context

    html = render_to_string(template_name, {**contact_context(), **context})
    return HTML(string=html).write_pdf()
