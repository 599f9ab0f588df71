-- The floor: F4111 rows with a lot number, converted to the LotUsage target columns by SQLite
-- itself (the same JDE rules the JdeLotUsageFetcher applies in Arrow), for the sqlite3 CLI's CSV
-- output piped into psql \copy. Also the expected target contents the benchmark checks against.
-- Column order = the target table's. Implied decimals: LNID 3, TRQT 0, UNCS 4 (the fetcher's defaults).
SELECT
    CAST("ILUKID" AS INTEGER) AS "UKID",
    CAST("ILITM" AS INTEGER) AS "ITM",
    rtrim("ILLITM") AS "LITM",
    trim("ILMCU") AS "MCU",
    rtrim("ILLOCN") AS "LOCN",
    rtrim("ILLOTN") AS "LOTN",
    CAST("ILDOC" AS INTEGER) AS "DOC",
    rtrim("ILDCT") AS "DCT",
    rtrim("ILKCO") AS "KCO",
    CAST("ILDOCO" AS INTEGER) AS "DOCO",
    rtrim("ILDCTO") AS "DCTO",
    printf('%.3f', round("ILLNID") / 1000.0) AS "LNID",
    CASE WHEN "ILTRDJ" > 0 THEN date(
        printf('%04d-01-01', 1900 + CAST("ILTRDJ" AS INTEGER) / 1000),
        '+' || (CAST("ILTRDJ" AS INTEGER) % 1000 - 1) || ' days') END AS "TRDJ",
    CAST(round("ILTRQT") AS INTEGER) AS "TRQT",
    rtrim("ILTRUM") AS "TRUM",
    printf('%.4f', round("ILUNCS") / 10000.0) AS "UNCS",
    CASE WHEN "ILCRDJ" > 0 THEN datetime(
        printf('%04d-01-01', 1900 + CAST("ILCRDJ" AS INTEGER) / 1000),
        '+' || (CAST("ILCRDJ" AS INTEGER) % 1000 - 1) || ' days',
        '+' || (CAST(coalesce("ILTDAY", 0) AS INTEGER) / 10000 * 3600
                + CAST(coalesce("ILTDAY", 0) AS INTEGER) / 100 % 100 * 60
                + CAST(coalesce("ILTDAY", 0) AS INTEGER) % 100) || ' seconds')
    ELSE '1900-01-01 00:00:00' END AS "LastUpdateDT"
FROM "F4111"
WHERE rtrim("ILLOTN") <> ''
