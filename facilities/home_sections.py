"""What other apps add to a facility's top page. Dependencies run one way (facilities ←
eligibility ← incentives/subsidies ← todos), so the page cannot ask the apps above it;
they register a function here in their AppConfig.ready (todos: the to-do list and what
changed since the last visit). Each returns template context for (request, facility,
facts=…), `facts` being the page's `selectors.facility_facts` of the facility (read once)."""

from collections.abc import Callable

Section = Callable[..., dict]
_sections: list[Section] = []


def add_section(section: Section) -> None:
    if section not in _sections:
        _sections.append(section)


def sections_for(request, facility, *, facts) -> dict:
    context: dict = {}
    for section in _sections:
        context.update(section(request, facility, facts=facts))
    return context
