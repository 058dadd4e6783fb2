#!/usr/bin/env python3
"""Writes a synthetic tax collection CSV (the format `ledgerctl import` reads) to stdout.

Every row is well-formed for the demo policy (region 222401, 2025 tiers, valid GB 11643 IDs,
unique receipt numbers), so a run shows the ingest path at volume. The payers are not enrolled,
so their contributions are booked to suspense. Deterministic for a given --seed.
"""
import argparse
import random
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
TIERS_YUAN = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1500, 2000, 3000, 4000, 5000]


def citizen_id(region, birth, serial):
    first17 = f"{region}{birth}{serial:03d}"
    return first17 + CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    out.write("receipt_number,citizen_id,name,region_code,contribution_year,amount_yuan,"
              "collection_date,tax_office,batch_id\n")
    for i in range(args.rows):
        birth = f"{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        month, day = rng.randint(1, 6), rng.randint(1, 28)
        out.write(f"3{args.year}{i:012d},{citizen_id('222401', birth, i % 1000)},居民{i},222401,"
                  f"{args.year},{rng.choice(TIERS_YUAN)},{args.year}-{month:02d}-{day:02d},"
                  f"12224010000,TX{args.year}{month:02d}{day:02d}\n")


if __name__ == "__main__":
    main()
