from tortoise import BaseDBAsyncClient

# CREATE INDEX CONCURRENTLY cannot run in a transaction (nor share a query string with another statement):
# the build never locks tasks against writes during a deploy.
RUN_IN_TRANSACTION = False


async def upgrade(db: BaseDBAsyncClient) -> str:
    # Tags with counts: the links of soft-deleted tasks, counted apart from all links (app.tags.service).
    return "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_deleted ON tasks (id) WHERE deleted_at IS NOT NULL"


async def downgrade(db: BaseDBAsyncClient) -> str:
    return "DROP INDEX CONCURRENTLY IF EXISTS idx_tasks_deleted"


MODELS_STATE = (
    "eJztWntv2zYQ/yqE/kqAzGuc2CmyYYAXe40HP4pYXYs2g8BIjCxEIl2KamJ0+e4jKetBvS"
    "qldmwYBgJHuodI/Y68O97pu+YRC7l+S4f+g3YJvmsYeohfKPQToMHFIqEKAoN3rhRkXEJS"
    "4J3PKDQZJ95D10ecZCHfpM6COQRzKg5cVxCJyQUdbCekADtfA2QwYiM2R5QzvvzLyQ620B"
    "Pyxe0XzWeQBXKgBXUIddhS4zJfNOj7jo0RMhwrJJgUQUaoeo8sAzKhHFGDhVVAtfgsBD1N"
    "i4dL0ZjD3FhITHXxYNw7yLUUDDmTsyTdYMuFpH34MOz/JSUFFHeGSdzAw4n0YsnmBMfiQe"
    "BYLaEjeDbCiIpZpyAWCK5MEZFCNDmB0QDFMFoJwUL3MHCFobTf7wNsCvsAbuGWSTyP4JZj"
    "+S0x8MUfq0mmFAxjMtWN2UA3DK2BhU2CxepwMBPm/P4cPjeBRlI1McDVde/m6Kx7LMEgPr"
    "OpZErgtGepCBkMVeXSSPCOraJCfjWHtBjyWCGDOp/qS/COCAngyUaIAIwg2gComgefDBdh"
    "m835bfvNmwqU/+ndSKC5lESa8J0b7ufJitUOeQLxBOH0zHI46+iJFeOcUXsR2qu1uytgV2"
    "CrDz7p4sme739105AejXufJNrecsUZTSfvIvGUCa5G0z8zyCfuL7+4BzjwJPBDPkWITZQz"
    "QMp5vtpK1/Rpf5p3IDFVwV2SL4H4vcXDifH+ZvruZjCbXYLUzS2+mo7fjwb6oH8J4ktO7U"
    "2uBqORpEaX2gu2zGm3xo457ZZuGMFSrZaOHardhpj92Gxp9Yzh+BtsynDtrM3aeXONph85"
    "Xrd4POgPP4y5yC2+Hr67vgRnNYG3xWx+OWtfdN9yrpysuLmosMBs3BuNhhM965NSMVvFuM"
    "+pzPFQiVNK6WXAtVaKrehiv/zTcDyY6b3xe8VJ9Xv6QHDaioOKqEfZVR8/BHwc6tdA3ILP"
    "08kgG7ZjOf2zJuYEA0YMTB4NaKUxicgRSbFwOsVrEN0zavsQdTIh/rxOhD8vD/DnWX+Vyp"
    "0bAK1qHXCuiXN8+mjitVTNNfit9WWxE/J4dHxwWeG5TTleNjGwqnkw8I4a2EIuepmBVc1D"
    "5rFrVhblnPuHVIFBEO6g+fAIqWXkOKRNymTzLK/tFVcuoF1wthtDvNSJ+M0dEzLLJq7W2Z"
    "upE21+uSTUZHz5VkauIinfkSJXuskEwVUZ8p5QCf4DWq6QXeUlsVlijv+wYrE5JYE9j6mR"
    "OTjC4W6V+U9vdtXry2Vm5BCWq8aDGNqSJl71+USZc2Fx1f5RbdXefGn1UL7ckfKl/N8g7Y"
    "7k97B42alTu+yUly47ucolh43QRoeaSGEP4a2qskToXpSCeyGw3U6UjHz8z4bJsKm153Ey"
    "fMl8oLSL42QcDfOB0l5HnBSTrQ6TPG+GY8fmChybG2QSqgakCrHKMCo9rhdp1Iuo2hQjQM"
    "kjWCAKxANA/ADA5pABCvkFATzmLPibc/JvAAIxU8DDLAIYfeOKNMA+gDY3VytbF93IAD8R"
    "7bcbfba6tTJdgFqNs9OKxtlp1Dgrj/VbbKTtWmh67U4a9xOu86KTu6p5KM3s0KFdbQiFbt"
    "TwCpKFIS7bWqrW67XbNunYwi5b+/T84vztWfc8brXFlKpMMGy1vV6iV5kb9ALLYQPM6LIo"
    "JUhxKzMBKOQMl9j1c4BH6jB0CR7nBBxxYUKPT/gNj8/iTgRr/ocwc9jy1/Afz5WkCMJchB"
    "0DiC0e0BEw5xDzVwPhCxfnA5scrM5HVurXUOEQghIPtvrmykzaPVzl8AXUrpQQXhDTDrFs"
    "l2NZeqfV7nubP9mM3bkwpuTn3Trd2G55N7ab68aGgFHS7ONBVWv/ut7r/xoqjGENMd6no4"
    "4K8Fm7BsBn7VKABUsFOAnYdQFONA4A1wa4oT9WlPbPT6zfH4fJa8Hh7e/ZdFJSrU9UsrmM"
    "YzLwH3Adf2MnuFQOeRc4LnOw3xLDbiN5FBBVl0yy1ZFM1iIekC2ZUMTB8FnDda9qHRZ+8c"
    "LflfM1oo4514rO1iHnpPJcncjsTKu6tNJTuB4LCjyrxbe7Zes1VHdOKg6T3xD1G+ZrKZU9"
    "zCfanU6dD0E7nfIvQQUvV45ulBGH4nuI7hr7Lum2P2YIF1RFKlKJROX1U4nt9FnWljRsNZ"
    "g9/w8dl87N"
)
