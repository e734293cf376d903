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
    journeys = facility_selectors.journeys_for(facilities=facilities)
    return render(
        request,
        "dashboard.html",
        {
            # The user's facilities, read once above, are what both lists are about.
            "todos": todo_selectors.todos_for(user=request.user, facilities=facilities),
            "changes": todo_selectors.changes_for(user=request.user, since=since,
                                                  facilities=facilities),
            "facilities": [(facility, journeys[facility.pk]) for facility in facilities],
        },
    )
