from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from facilities import selectors as facility_selectors

from . import selectors, services
from .forms import ReminderPreferenceForm


@login_required
@require_http_methods(["GET", "POST"])
def reminders(request: HttpRequest) -> HttpResponse:
    """The user's own setting for the weekly reminder e-mail."""
    if request.method == "POST":
        form = ReminderPreferenceForm(request.POST)
        if form.is_valid():
            receives = form.cleaned_data["receives_reminders"]
            services.set_reminder_preference(user=request.user, receives=receives)
            messages.success(request, "お知らせメールを受け取ります。" if receives
                             else "お知らせメールを停止しました。")
            return redirect("todos:reminders")
    else:
        form = ReminderPreferenceForm(
            initial={"receives_reminders": services.receives_reminders(request.user)})
    return render(request, "todos/reminders.html", {"form": form})


# The signed token is the credential (no log-in): a mail program's one-click POST
# (RFC 8058, List-Unsubscribe-Post) carries no CSRF token.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a mail scanner following links must not unsubscribe anyone); POST stops."""
    user = services.user_for_unsubscribe_token(token)
    if user is None:
        return render(request, "todos/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        services.unsubscribe(token=token)
        return render(request, "todos/unsubscribe.html", {"done": True})
    return render(request, "todos/unsubscribe.html", {"token": token})


def facility_home_section(request: HttpRequest, facility, *, facts=None) -> dict:
    """The facility top page's task list and what changed since the last visit
    (registered in facilities/home_sections.py by TodosConfig.ready); `facts`: the page's
    `facilities.selectors.facility_facts`, already read."""
    since = services.record_visit(user=request.user)
    todos = selectors.todos_for_facility(facility=facility, facts=facts)
    return {
        "todos": todos,
        "open_count": selectors.open_count(todos),
        "changes": selectors.changes_for_facility(facility=facility, since=since,
                                                  user=request.user),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """マイページ: the user's facilities, each with its task list, and what changed since the
    last visit (todos reads across the apps)."""
    facilities = list(facility_selectors.facilities_for(user=request.user))
    since = services.record_visit(user=request.user)
    # Their applications, device accounts and go-lives, read once for every list.
    facts = facility_selectors.facility_facts(facilities=facilities)
    todos = selectors.todos_for(user=request.user, facilities=facilities, facts=facts)
    return render(
        request,
        "dashboard.html",
        {
            "todos": todos,
            "open_count": selectors.open_count(todos),
            "changes": selectors.changes_for(user=request.user, since=since,
                                             facilities=facilities),
            "facilities": selectors.by_facility(facilities, todos),
        },
    )
