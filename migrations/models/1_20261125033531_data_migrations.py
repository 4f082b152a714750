from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "data_migrations" (
    "name" VARCHAR(100) NOT NULL PRIMARY KEY,
    "description" TEXT NOT NULL,
    "applied_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "duration_ms" INT NOT NULL
);
COMMENT ON TABLE "data_migrations" IS 'One row per data migration that ran to completion; a name here never runs again.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "data_migrations";"""


MODELS_STATE = (
    "eJztWWtv4jgU/StWPnWkWTSlUEbd1UoMZKesgFQl3RlNu4rcxISIxGYcZ1vU7X9f23k/Bz"
    "qlZVG/QHJ8b+Kca/tcXz8oHrGQ67d06C+VM/CgYOghfpHD3wMFrlYpKgAGb11pyLiFROCt"
    "zyg0GQfn0PURhyzkm9RZMYdgjuLAdQVITG7oYDuFAux8D5DBiI3YAlHecP03hx1soXvki9"
    "trxWeQBfJFK+oQ6rC1wm2uFej7jo0RMhwrBEyKIEOWAZkwjtFgZVWgFn+rwLNY8vgMxhzm"
    "Jkaia6ulMXeQa+U44428SeIGW68kdnU1Gv4hLcWn3xomcQMPp9arNVsQnJgHgWO1hI9osx"
    "FGVPQ6Q6lgLKI+hkL2OMBogBLarBSw0BwGrgiM8ts8wKaIB+ARbZnE8whuOZbfEi/u/R51"
    "MuNgGFNNN2aqbhjKFhE1CRajwcFMhO/hMXxuSo1EFfGCwXn/8ujk9J0kg/jMprJREqc8Sk"
    "fIYOgqh0LKdxKVPOWDBaTVlCcOBdZ5V5/CdwykhKcDPyYwpmgHpCoevDdchG224LftDx8a"
    "WP6rfymJ5laSacJnajh/p1FTO2wTjKcMZ3tW4llH96ya54Lbk9iOxu6+kN3Ara5+1cWTPd"
    "//7mYpPZr0v0q2vXXUMtamn2PzTAgGY+1Tgfl0uSsPbhUHniR+xLsIsYlKAcgsli820hVd"
    "G2rlBSRBc7xL+AyI3xs8mhoXl9rnS3U2OwOZmxs80CYXY1VXh2cgueRofzpQx2OJxpfKE6"
    "bM8ekGM+b4tHbCiKZ81LLakY/bCLMfhy3rXggc/4JdBa5djFm7HK6x9oXzdYMn6nB0NeEm"
    "N/h89Pn8DJxsSLwtevPLSbt3+pG3ys6Km15DBGaT/ng8murFNSmj2XmOhxxljodqFqWMX4"
    "FcK3JsxReHtT6NJupM708ucovUsK+roqWdW6Bi9Kg46pOHgC8j/RyIW/BNm6pF2U7s9G+K"
    "6BMMGDEwuTOgleUkhmMoF+FsSreFuhfcDkF1ChLf2UThO/UC3ymuV/lceZvZlPd8hvn0fN"
    "nVlNwdvXubSuF+Irft2SbAec+3AO9pgPl+HD0twHnPN0XctyiLMsN8mdn4CuAWmss7SC2j"
    "1ELapM623OS1veodNbQr9hwTiNc6Eb+l9LUwbJKqkb2b+sXuh0uKpu+XX2WUKmPyGyly5T"
    "KZMhiVw+aESvKXaB0xG+UlSViSFn8ZNbEFJYG9SNA4HJzhcLbKBKg/G/SHcpgZJYblqPEg"
    "hrbExKc+vs/1ubLIZ/+oxmfvvsT3Vlbbk7Ka/N8i747tD7Co1t2kptatL6l1SxU1Thuh27"
    "CbOBwgvU27/5jdXi25PcHt66hkvMb/rEyGhysHrpPhR5aF0q7WyUQNy0JpP4dOis42yyTP"
    "m+HEsbkD5+YSmYTmBanBrFFG5YrrxR6bKaqiYQQouQMrRIF4AEgeANgCMkAhvyCAa86Kfz"
    "mHfwUQiJ4CLrMIYPQPd6QB9gG0ebhaxXrdTl7wE2r/uurzqlOrUJ3e6EDnuOFA5zg+0KnX"
    "+lc84Nk3aXrpEx6+TrjOk3buec+30swebdrzBxXhMmp4FcnCCNdNrbzXyx0D7XJhC09/2s"
    "edXufjyWknOQJKkKZMMDwCerlErzE36CPqmIuqdCBqacwAYGqzN1vp2pFYuZOuGICRRO6v"
    "rD7D6GvSUJ7/+JX6WZ+0ZFwOQjsL51Td7iYHVd1u/UmVaCvJ5VaHgaH5AbL7jHlhtiyBGc"
    "IVmcifM21aV5hIXIopiGMy8C9wHf//KFYN5AoymvPAYspXSCvEAz69tpg9/gfHY2sw"
)
