-- Windows twice as many: a search goes on in the smallest window that should hold a query's
-- 1,000 newest matches, and with a window every factor of four it could read four to five
-- times as many matches as it ranks; with one every factor of two, at most two and a half.
-- Measured when the store opens (their `since` is NULL until then).
INSERT INTO search_windows (size) VALUES (8192), (32768), (131072), (524288)
ON CONFLICT (size) DO NOTHING;
