"""The onboarding funnel of the hand-worked hub (newcomers ben and dan)."""

from catalyst_hub.reports.funnel import funnel


def test_funnel_counts_and_conversion(hub):
    report = funnel(hub.store, "andes", hub.period)
    assert report.newcomers == 2
    assert report.completed == 1  # dan
    rows = {s.id: s for s in report.steps}
    assert [s.id for s in report.steps][:4] == [
        "login",
        "start_server",
        "open_environment",
        "upload_file",
    ]
    assert [(s.reached, s.through) for s in report.steps] == [
        (2, 2),
        (2, 2),
        (2, 2),
        (1, 1),
        (2, 1),
        (1, 1),
        (1, 1),
        (2, 1),
    ]
    assert rows["upload_file"].step_conversion == 50.0
    assert rows["run_code"].step_conversion == 100.0
    assert rows["run_code"].overall_conversion == 50.0
    assert rows["upload_file"].stalled == 1  # ben ran code but never uploaded a file
    assert report.stall_step.id == "upload_file"


def test_time_to_steps(hub):
    rows = {s.id: s for s in funnel(hub.store, "andes", hub.period).steps}
    assert (rows["login"].median_hours, rows["login"].p90_hours) == (0.0, 0.0)
    assert (rows["start_server"].median_hours, rows["start_server"].p90_hours) == (0.75, 1.0)
    # time to first code: ben 24 h after login, dan 4 h
    assert (rows["run_code"].median_hours, rows["run_code"].p90_hours) == (14.0, 24.0)
    assert (rows["stop_server"].median_hours, rows["stop_server"].p90_hours) == (3.75, 6.0)


def test_staff_are_not_newcomers(hub):
    assert funnel(hub.store, "pampa", hub.period).newcomers == 1
    assert funnel(hub.store, "pampa", hub.period).steps[0].reached == 0
