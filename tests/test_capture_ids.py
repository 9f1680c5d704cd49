"""``--capture-messages`` with IDs a run does not have is an error, not an empty capture.

IDs that cannot be message IDs are refused before simulating; IDs the run did not create are
found after simulating and before anything is written, so the output folder is left as it was.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from simulator import cli, load_scenario, run, runner
from simulator.capture import describe_ids, parse_message_ids, unknown_message_ids

WIRE = Path(__file__).resolve().parent.parent / "scenarios" / "wire.yaml"


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _created(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_unknown_ids_exit_2_naming_them_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _main("run", str(WIRE), "-o", str(out), "--pcap", "--capture-messages", "m2,m99,d50", "-q")
    assert code == 2
    assert "m99, d50" in stderr and "m2," not in stderr
    assert "4 messages, m1 to m4, and 1 DSN, d5" in stderr  # what the run did create
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists()


def test_unknown_ids_leave_an_earlier_result_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _main("run", str(WIRE), "-o", str(out), "--no-plots", "-q")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, stderr = _main("run", str(WIRE), "-o", str(out), "--transcripts", "--capture-messages", "m7", "-q")
    assert code == 2 and "m7" in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not (out / "transcripts.jsonl").exists()


@pytest.mark.parametrize("given, bad", [("m1,mail", "'mail'"), ("1", "'1'"), ("m0", "'m0'"), ("M1", "'M1'")])
def test_text_that_is_no_id_is_refused_before_simulating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         given: str, bad: str) -> None:
    def no_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("simulated although the arguments were bad")

    monkeypatch.setattr(runner, "run", no_run)  # cli._run imports it when it runs
    code, _, stderr = _main("run", str(WIRE), "-o", str(tmp_path / "out"), "--pcap", "--capture-messages", given)
    assert code == 2
    assert f"--capture-messages: {bad} is not a message id" in stderr
    assert not (tmp_path / "out").exists()


def test_known_ids_capture_only_those(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = _main("run", str(WIRE), "-o", str(out), "--transcripts", "--capture-messages", " m2 , m2,", "-q",
                            "--no-plots")
    assert (code, stderr) == (0, "")
    text = (out / "transcripts.jsonl").read_text()
    assert '"m2"' in text and '"m1"' not in text


def test_parse_message_ids() -> None:
    assert parse_message_ids(" m1, d7,m1 ,") == ["m1", "d7"]
    with pytest.raises(ValueError, match="at least one"):
        parse_message_ids(" , ")
    with pytest.raises(ValueError, match="'x', 'm01' are not message ids"):
        parse_message_ids("x,m2,m01")


def test_the_api_refuses_to_write_a_capture_of_messages_the_run_did_not_create(tmp_path: Path) -> None:
    result = run(load_scenario(WIRE), trace=True, trace_messages=["m3", "m42"])
    assert unknown_message_ids(result.records, ["m3", "m42"]) == ["m42"]
    with pytest.raises(ValueError, match="m42, which this run did not create"):
        result.write_wire(tmp_path)
    with pytest.raises(ValueError, match="m42"):
        result.save(tmp_path / "out", with_plots=False, pcap=True)
    assert not (tmp_path / "out").exists()
    assert _created(tmp_path) == []


def test_describe_ids_counts_in_words() -> None:
    one = [(0.0, "created", "m1", "x", "")]
    assert describe_ids(one) == "1 message, m1"
    assert describe_ids([]) == "no message"
