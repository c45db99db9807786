"""The local Supabase behaves like a hosted project for supabase-py."""

import signal
import subprocess
import sys

import httpx
import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import create_client

from heho_app.devtools.supabase_stack import NOTE_OWNER, LocalSupabase


def test_service_key_reads_and_writes(supabase_stack):
    client = create_client(supabase_stack.url, supabase_stack.service_key)
    client.table("customers").insert({"name": "Linus", "email": "linus@example.com"}).execute()
    rows = client.table("customers").select("name").eq("email", "linus@example.com").execute()
    assert rows.data == [{"name": "Linus"}]
    assert supabase_stack.execute("select count(*) from customers") == [(7,)]


def test_row_level_security_is_enforced(supabase_stack):
    anon = create_client(supabase_stack.url, supabase_stack.anon_key)
    assert anon.table("notes").select("*").execute().data == []
    with pytest.raises(APIError) as refused:
        anon.table("notes").insert({"body": "x"}).execute()
    assert refused.value.code == "42501"
    owner = create_client(supabase_stack.url, supabase_stack.user_key(NOTE_OWNER))
    assert [n["owner"] for n in owner.table("notes").select("*").execute().data] == [NOTE_OWNER]


def test_reset_restores_sample_rows(supabase_stack):
    supabase_stack.execute("delete from orders; delete from customers where id > 3")
    supabase_stack.reset_sample_data()
    assert supabase_stack.execute("select count(*) from customers") == [(6,)]
    assert supabase_stack.execute("select min(id), count(*) from orders") == [(1, 60)]


def test_stop_removes_everything():
    stack = LocalSupabase(with_heho_tables=False).start()
    workdir, url, dsn = stack.workdir, stack.url, stack.dsn
    assert httpx.get(f"{url}/rest/v1/", headers={"apikey": stack.anon_key}).status_code == 200
    stack.stop()
    assert not workdir.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/rest/v1/")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)


def test_dev_supabase_command_prints_keys_and_stops_on_ctrl_c():
    process = subprocess.Popen(
        [sys.executable, "-m", "heho_app.cli", "dev-supabase"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        printed = dict(line.strip().rsplit(None, 1) for line in lines if line.startswith("  "))
        assert set(printed) == {"URL", "anon key", "service key", "PostgreSQL"}
        client = create_client(printed["URL"], printed["service key"])
        assert len(client.table("products").select("id").execute().data) == 5
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(printed["URL"] + "/rest/v1/")
