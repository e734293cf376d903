from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from facilities import selectors as facility_selectors
from todos import selectors as todo_selectors
from todos import services as todo_services


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    facilities = list(facility_selectors.facilities_for(user=request.user))
    since = todo_services.record_visit(user=request.user)
    # Their applications, device accounts and go-lives, read once for both lists.
    facts = facility_selectors.facility_facts(facilities=facilities)
    journeys = facility_selectors.journeys_for(facilities=facilities, facts=facts)
    return render(
        request,
        "dashboard.html",
        {
            # The user's facilities, read once above, are what both lists are about.
            "todos": todo_selectors.todos_for(user=request.user, facilities=facilities,
                                              facts=facts),
            "changes": todo_selectors.changes_for(user=request.user, since=since,
                                                  facilities=facilities),
            "facilities": [(facility, journeys[facility.pk]) for facility in facilities],
        },
    )
