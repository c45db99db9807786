pytest_plugins = ["tests.supabase_fixtures"]
