-- =============================================================================
-- private.start_request runs with an empty search_path.
--
-- Every request calls it first, as its caller's transaction opens. Without a
-- search_path of its own it resolved names by the caller's, which a session
-- may change (Supabase's linter: function_search_path_mutable). Its body
-- already qualifies every name (private.sessions; now() and set_config() are
-- pg_catalog's, always searched), so '' changes nothing it means. The
-- set_config() calls are not limited by the function's own SET: only a
-- search_path it set itself would be undone on return.
-- =============================================================================

alter function private.start_request(jsonb, text) set search_path = '';
