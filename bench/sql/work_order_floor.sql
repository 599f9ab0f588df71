-- The floor for F4801: every work order converted to the WorkOrder_Curr target columns by SQLite
-- itself (the JDE rules the JdeWorkOrderFetcher applies in Arrow), for the sqlite3 CLI's CSV output
-- piped into psql \copy. Also the expected target contents the benchmark checks against.
-- Column order = the target table's. Implied decimals: UORG, SOQS, SOCN 0 (the fetcher's defaults).
SELECT
    CAST("WADOCO" AS INTEGER) AS "DOCO",
    rtrim("WADCTO") AS "DCTO",
    rtrim("WASFXO") AS "SFXO",
    rtrim("WAKCOO") AS "KCOO",
    trim("WAMCU") AS "MCU",
    trim("WAMMCU") AS "MMCU",
    CAST("WAITM" AS INTEGER) AS "ITM",
    rtrim("WALITM") AS "LITM",
    rtrim("WADL01") AS "DL01",
    rtrim("WASRST") AS "SRST",
    CASE WHEN "WATRDJ" > 0 THEN date(printf('%04d-01-01', 1900 + CAST("WATRDJ" AS INTEGER) / 1000),
        '+' || (CAST("WATRDJ" AS INTEGER) % 1000 - 1) || ' days') END AS "TRDJ",
    CASE WHEN "WASTRT" > 0 THEN date(printf('%04d-01-01', 1900 + CAST("WASTRT" AS INTEGER) / 1000),
        '+' || (CAST("WASTRT" AS INTEGER) % 1000 - 1) || ' days') END AS "STRT",
    CASE WHEN "WADRQJ" > 0 THEN date(printf('%04d-01-01', 1900 + CAST("WADRQJ" AS INTEGER) / 1000),
        '+' || (CAST("WADRQJ" AS INTEGER) % 1000 - 1) || ' days') END AS "DRQJ",
    CASE WHEN "WASTRX" > 0 THEN date(printf('%04d-01-01', 1900 + CAST("WASTRX" AS INTEGER) / 1000),
        '+' || (CAST("WASTRX" AS INTEGER) % 1000 - 1) || ' days') END AS "STRX",
    CAST(round("WAUORG") AS INTEGER) AS "UORG",
    CAST(round("WASOQS") AS INTEGER) AS "SOQS",
    CAST(round("WASOCN") AS INTEGER) AS "SOCN",
    rtrim("WAUOM") AS "UOM",
    rtrim("WALOTN") AS "LOTN",
    rtrim("WAPARS") AS "PARS",
    CASE WHEN "WAUPMJ" > 0 THEN datetime(
        printf('%04d-01-01', 1900 + CAST("WAUPMJ" AS INTEGER) / 1000),
        '+' || (CAST("WAUPMJ" AS INTEGER) % 1000 - 1) || ' days',
        '+' || (CAST(coalesce("WATDAY", 0) AS INTEGER) / 10000 * 3600
                + CAST(coalesce("WATDAY", 0) AS INTEGER) / 100 % 100 * 60
                + CAST(coalesce("WATDAY", 0) AS INTEGER) % 100) || ' seconds')
    ELSE '1900-01-01 00:00:00' END AS "LastUpdateDT"
FROM "F4801"
