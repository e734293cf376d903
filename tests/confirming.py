"""Forms that change money answer a first POST with a confirmation page naming the effect
(portal/confirmation.py); tests that only want the change made go through both steps."""


def confirmation_token(response) -> str:
    body = response.content.decode()
    return body.split('name="confirmation" value="', 1)[1].split('"', 1)[0]


def post_confirmed(client, url: str, data: dict):
    """POST the form, then 「この内容で登録する」 on its confirmation page (when one is shown)."""
    response = client.post(url, data)
    if response.status_code != 200 or b'name="confirmation"' not in response.content:
        return response
    return client.post(url, {"confirmation": confirmation_token(response), "confirm": ""})


def post_bank_confirmed(client, url: str, data: dict):
    """The bank account form: its confirmation page, then 「この内容で登録する」 with the
    values as its hidden fields and the signed token of what it showed."""
    page = client.post(url, data)
    return client.post(url, {**data, "confirmation": confirmation_token(page), "submit": "1"})
