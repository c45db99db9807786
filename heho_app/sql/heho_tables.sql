-- HeHo's tables in your own Supabase project: conversations, messages, memories.
-- Run this once in the SQL editor of your project. It is safe to run again.
--
-- Row level security is turned on without any policy: only the service_role key
-- (which bypasses RLS) can read or write these tables, so clients using your anon
-- key never see your chatbot's conversations or memories.

create table if not exists public.heho_conversations (
  id uuid primary key default gen_random_uuid(),
  chatbot_id text not null,
  title text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists heho_conversations_chatbot_idx
  on public.heho_conversations (chatbot_id, updated_at desc);

create table if not exists public.heho_messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.heho_conversations (id) on delete cascade,
  role text not null check (role in ('system', 'user', 'assistant', 'tool')),
  content text not null default '',
  status text not null default 'complete',
  tool_calls jsonb,
  created_at timestamptz not null default now()
);
create index if not exists heho_messages_conversation_idx
  on public.heho_messages (conversation_id, created_at);

create table if not exists public.heho_memories (
  id uuid primary key default gen_random_uuid(),
  chatbot_id text not null,
  content text not null,
  created_at timestamptz not null default now()
);
create index if not exists heho_memories_chatbot_idx
  on public.heho_memories (chatbot_id, created_at desc);

alter table public.heho_conversations enable row level security;
alter table public.heho_messages enable row level security;
alter table public.heho_memories enable row level security;
