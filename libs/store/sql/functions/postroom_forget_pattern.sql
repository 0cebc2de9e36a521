-- The lowercased address `p_address` as a case-insensitive regular expression that finds it
-- inside text (summaries, traces, reasons, headers), every special character escaped, and only
-- as a whole address: "bob@example.com" does not match inside "jbob@example.com" or
-- "bob@example.com.au". For postroom_forget_address.
CREATE OR REPLACE FUNCTION postroom_forget_pattern(p_address text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '(?i)(?<![[:alnum:]._%+-])'
         || regexp_replace(p_address, '([].^$*+?(){}|\\[-])', '\\\1', 'g')
         || '(?![[:alnum:]_-]|\.[[:alnum:]])'
$$;
