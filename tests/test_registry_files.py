"""Registry input files: every operation read from CSV and TOML into the exact engine commands, and
every kind of bad row reported on one line naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonx.errors import CarbonxError
from carbonx.registry_files import Entry, RegistryFileError, read_registry_file
from engine.messages import (
    AllocateAllowances,
    CancelAllowances,
    CarryOverAllowances,
    Command,
    DepositCash,
    MergeAccounts,
    SplitAccount,
    SplitPart,
    SurrenderAllowances,
    Units,
    WithdrawCash,
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def commands(entries: list[Entry]) -> list[Command]:
    return [entry.command for entry in entries]


def problems(path: Path, operation: str) -> list[str]:
    with pytest.raises(RegistryFileError) as error:
        read_registry_file(path, operation)
    assert isinstance(error.value, CarbonxError)
    return error.value.problems


# ---------------------------------------------------------------------------------------------- each operation


def test_allocate_csv_gives_one_command_per_row_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "allocate.csv",
        "account,instrument,quantity,compliance_only\nA001,SHEA2025,300000,false\n\nA002,CCER,5000,\nA003,SHEA2025,20000,TRUE\n",
    )

    entries = read_registry_file(path, "allocate")

    assert entries == [
        Entry(f"{path}:2", AllocateAllowances(account="A001", instrument="SHEA2025", quantity=300_000)),
        Entry(f"{path}:4", AllocateAllowances(account="A002", instrument="CCER", quantity=5_000)),
        Entry(
            f"{path}:5",
            AllocateAllowances(account="A003", instrument="SHEA2025", quantity=20_000, compliance_only=True),
        ),
    ]


def test_allocate_toml_gives_each_table_the_line_it_starts_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "allocate.toml",
        '# free allocation\n\n[[allocate]]\naccount = "A001"\ninstrument = "SHEA2025"\nquantity = 300_000\n\n'
        '[[allocate]]\naccount = "A002"\ninstrument = "SHEA2025"\nquantity = 20000\ncompliance_only = true\n',
    )

    entries = read_registry_file(path, "allocate")

    assert entries == [
        Entry(f"{path}:3", AllocateAllowances(account="A001", instrument="SHEA2025", quantity=300_000)),
        Entry(
            f"{path}:8",
            AllocateAllowances(account="A002", instrument="SHEA2025", quantity=20_000, compliance_only=True),
        ),
    ]


def test_csv_with_byte_order_mark_and_windows_line_ends_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "allocate.csv", "account,instrument,quantity\r\nA001,SHEA2025,7\r\n", encoding="utf-8-sig")

    assert commands(read_registry_file(path, "allocate")) == [
        AllocateAllowances(account="A001", instrument="SHEA2025", quantity=7)
    ]


@pytest.mark.parametrize(("operation", "command_type"), [("deposit", DepositCash), ("withdraw", WithdrawCash)])
def test_cash_rows_take_amount_in_fen_or_exact_cny(tmp_path: Path, operation: str, command_type: type) -> None:
    path = write(
        tmp_path,
        f"{operation}.csv",
        "account,amount_fen,amount_cny\nA001,123456,\nA002,,1234.50\nA003,,0.07\nA101,,2000\n",
    )

    assert commands(read_registry_file(path, operation)) == [
        command_type(account="A001", amount=123_456),
        command_type(account="A002", amount=123_450),
        command_type(account="A003", amount=7),
        command_type(account="A101", amount=200_000),
    ]


def test_cash_toml_takes_amount_cny_as_text_and_amount_fen_as_integer(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deposit.toml",
        '[[deposit]]\naccount = "A001"\namount_cny = "99999999.99"\n\n[[deposit]]\naccount = "A002"\namount_fen = 5\n',
    )

    assert commands(read_registry_file(path, "deposit")) == [
        DepositCash(account="A001", amount=9_999_999_999),
        DepositCash(account="A002", amount=5),
    ]


def test_surrender_cancel_carry_over_and_merge_from_csv(tmp_path: Path) -> None:
    surrender = write(tmp_path, "s.csv", "account,compliance_year,verified_emissions\nA001,2025,100000\n")
    cancel = write(tmp_path, "c.csv", "account,instrument,quantity\nA002,CCER,2000\n")
    carry_over = write(tmp_path, "o.csv", "instrument,quantity,account\nSHEA2024,10000,A101\n")
    merge = write(tmp_path, "m.csv", "account,successor\n A103 , A102 \n")

    assert commands(read_registry_file(surrender, "surrender")) == [
        SurrenderAllowances(account="A001", compliance_year=2025, verified_emissions=100_000)
    ]
    assert commands(read_registry_file(cancel, "cancel")) == [
        CancelAllowances(account="A002", instrument="CCER", quantity=2_000)
    ]
    assert commands(read_registry_file(carry_over, "carry-over")) == [
        CarryOverAllowances(account="A101", instrument="SHEA2024", quantity=10_000)
    ]
    assert commands(read_registry_file(merge, "merge")) == [MergeAccounts(account="A103", successor="A102")]


def test_surrender_cancel_carry_over_and_merge_from_toml(tmp_path: Path) -> None:
    surrender = write(
        tmp_path, "s.toml", '[[surrender]]\naccount = "A001"\ncompliance_year = 2025\nverified_emissions = 100000\n'
    )
    cancel = write(tmp_path, "c.toml", '[[cancel]]\naccount = "A002"\ninstrument = "CCER"\nquantity = 2000\n')
    carry_over = write(
        tmp_path, "o.toml", '[[carry-over]]\naccount = "A101"\ninstrument = "SHEA2024"\nquantity = 10000\n'
    )
    merge = write(tmp_path, "m.toml", '[[merge]]\naccount = "A103"\nsuccessor = "A102"\n')

    assert read_registry_file(surrender, "surrender") == [
        Entry(f"{surrender}:1", SurrenderAllowances(account="A001", compliance_year=2025, verified_emissions=100_000))
    ]
    assert commands(read_registry_file(cancel, "cancel")) == [
        CancelAllowances(account="A002", instrument="CCER", quantity=2_000)
    ]
    assert commands(read_registry_file(carry_over, "carry-over")) == [
        CarryOverAllowances(account="A101", instrument="SHEA2024", quantity=10_000)
    ]
    assert commands(read_registry_file(merge, "merge")) == [MergeAccounts(account="A103", successor="A102")]


def test_split_csv_rows_group_into_one_split_per_source_account_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "split.csv",
        "account,to_account,cash_fen,instrument,quantity\n"
        "A001,A002,20000000,SHEA2025,10000\n"
        "A101,A104,500,,\n"
        "A001,A003,,SHEA2025,5000\n"
        "A001,A002,,CCER,300\n",
    )

    entries = read_registry_file(path, "split")

    assert entries == [
        Entry(
            f"{path}:2",
            SplitAccount(
                account="A001",
                parts=[
                    SplitPart(
                        account="A002",
                        cash=20_000_000,
                        holdings=[
                            Units(instrument="SHEA2025", quantity=10_000),
                            Units(instrument="CCER", quantity=300),
                        ],
                    ),
                    SplitPart(account="A003", holdings=[Units(instrument="SHEA2025", quantity=5_000)]),
                ],
            ),
        ),
        Entry(f"{path}:3", SplitAccount(account="A101", parts=[SplitPart(account="A104", cash=500)])),
    ]


def test_split_toml_tables_with_parts_and_holdings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "split.toml",
        '[[split]]\naccount = "A001"\n\n'
        '[[split.part]]\naccount = "A002"\ncash_fen = 20_000_000\n'
        'holdings = [{instrument = "SHEA2025", quantity = 10_000}, {instrument = "CCER", quantity = 300}]\n\n'
        '[[split.part]]\naccount = "A003"\nholdings = [{instrument = "SHEA2025", quantity = 5_000}]\n',
    )

    entries = read_registry_file(path, "split")

    assert entries == [
        Entry(
            f"{path}:1",
            SplitAccount(
                account="A001",
                parts=[
                    SplitPart(
                        account="A002",
                        cash=20_000_000,
                        holdings=[
                            Units(instrument="SHEA2025", quantity=10_000),
                            Units(instrument="CCER", quantity=300),
                        ],
                    ),
                    SplitPart(account="A003", holdings=[Units(instrument="SHEA2025", quantity=5_000)]),
                ],
            ),
        )
    ]


# ---------------------------------------------------------------------------------------------- shape errors


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("12.5", 'quantity: expected a whole number of tonnes, got "12.5"'),
        ("1e3", 'quantity: expected a whole number of tonnes, got "1e3"'),
        ("abc", 'quantity: expected a whole number of tonnes, got "abc"'),
        ('"1,000"', 'quantity: expected a whole number of tonnes, got "1,000"'),
        ("0", 'quantity: must be positive, got "0"'),
        ("-5", 'quantity: must be positive, got "-5"'),
        ("1000000000000001", 'quantity: too large, got "1000000000000001"'),
        ("", "quantity: missing"),
    ],
)
def test_bad_quantity_names_file_line_and_problem(tmp_path: Path, cell: str, problem: str) -> None:
    path = write(tmp_path, "allocate.csv", f"account,instrument,quantity\n\nA001,SHEA2025,7\nA001,SHEA2025,{cell}\n")

    assert problems(path, "allocate") == [f"{path}:4: {problem}"]


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        (",,", "amount: missing (amount_fen or amount_cny)"),
        (",5,1.00", "amount: give only one of amount_fen and amount_cny"),
        (',,"1,234.50"', 'amount_cny: expected CNY with at most two decimals such as "1234.50", got "1,234.50"'),
        (",,1.234", 'amount_cny: expected CNY with at most two decimals such as "1234.50", got "1.234"'),
        (",,0.00", 'amount_cny: must be positive, got "0.00"'),
        (",2.5,", 'amount_fen: expected a whole number of fen, got "2.5"'),
    ],
)
def test_bad_amount_names_the_problem(tmp_path: Path, cells: str, problem: str) -> None:
    path = write(tmp_path, "deposit.csv", f"account,amount_fen,amount_cny\nA001{cells}\n")

    assert problems(path, "deposit") == [f"{path}:2: {problem}"]


def test_bad_boolean_and_year_and_missing_account(tmp_path: Path) -> None:
    allocate = write(tmp_path, "allocate.csv", "account,instrument,quantity,compliance_only\nA001,SHEA2025,5,yes\n")
    surrender = write(tmp_path, "surrender.csv", "account,compliance_year,verified_emissions\n,25,100\n")

    assert problems(allocate, "allocate") == [f'{allocate}:2: compliance_only: expected true or false, got "yes"']
    assert problems(surrender, "surrender") == [
        f"{surrender}:2: account: missing",
        f'{surrender}:2: compliance_year: expected a year such as 2025, got "25"',
    ]


def test_header_problems_are_reported_on_the_header_line(tmp_path: Path) -> None:
    path = write(tmp_path, "allocate.csv", "\naccount,instrument,qty,account\nA001,SHEA2025,5,A001\n")

    assert problems(path, "allocate") == [
        f'{path}:2: unknown column "qty" (expected account, instrument, quantity, compliance_only)',
        f'{path}:2: column "account" appears twice',
        f'{path}:2: missing column "quantity" (expected account, instrument, quantity, compliance_only)',
    ]


def test_cash_file_needs_an_amount_column(tmp_path: Path) -> None:
    path = write(tmp_path, "deposit.csv", "account\nA001\n")

    assert problems(path, "deposit") == [
        f"{path}:1: missing column: one of amount_fen or amount_cny (expected account, amount_fen, amount_cny)"
    ]


def test_every_bad_row_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "allocate.csv",
        "account,instrument,quantity\n"
        "A001,SHEA2025,100\n"
        "A002,SHEA2025,12.5\n"
        "A003,SHEA2025\n"
        "A101,SHEA2025,100\n"
        ",CCER,0\n",
    )

    with pytest.raises(RegistryFileError) as error:
        read_registry_file(path, "allocate")

    assert error.value.problems == [
        f'{path}:3: quantity: expected a whole number of tonnes, got "12.5"',
        f"{path}:4: 2 cells, but the header (line 1) has 3",
        f"{path}:6: account: missing",
        f'{path}:6: quantity: must be positive, got "0"',
    ]
    assert str(error.value).splitlines() == [f"{path}: 4 problems; nothing applied", *error.value.problems]


def test_toml_shape_errors_name_the_line_of_the_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "allocate.toml",
        '[[allocate]]\naccount = "A001"\ninstrument = "SHEA2025"\nquantity = 12.5\n\n'
        '[[allocate]]\naccount = "A002"\ninstrument = "SHEA2025"\nqty = 5\ncompliance_only = "maybe"\n\n'
        '[[allocate]]\naccount = 7\ninstrument = "CCER"\nquantity = true\n',
    )

    assert problems(path, "allocate") == [
        f"{path}:1: quantity: expected a whole number of tonnes, got 12.5",
        f"{path}:6: qty: unknown key (expected account, instrument, quantity, compliance_only)",
        f"{path}:6: quantity: missing",
        f'{path}:6: compliance_only: expected true or false, got "maybe"',
        f"{path}:12: account: expected text, got 7",
        f"{path}:12: quantity: expected a whole number of tonnes, got true",
    ]


def test_toml_cny_amount_must_be_text_not_a_float(tmp_path: Path) -> None:
    path = write(tmp_path, "withdraw.toml", '[[withdraw]]\naccount = "A001"\namount_cny = 1234.5\n')

    assert problems(path, "withdraw") == [
        f'{path}:1: amount_cny: expected CNY with at most two decimals such as "1234.50", got 1234.5'
    ]


def test_toml_tables_without_header_lines_are_named_by_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cancel.toml",
        'cancel = [{account = "A001", instrument = "CCER", quantity = 1}, {account = "A002", instrument = "CCER"}]\n',
    )

    assert problems(path, "cancel") == [f"{path}: [[cancel]] #2: quantity: missing"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[[deposit]]\naccount = "A001"\n',
            "unknown table or key 'deposit': a registry allocate file holds only [[allocate]] tables",
        ),
        ("# nothing here\n", "no [[allocate]] tables: nothing to apply"),
        ('[allocate]\naccount = "A001"\n', "allocate must be an array of tables, written [[allocate]]"),
    ],
)
def test_toml_file_level_problems(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "allocate.toml", text)

    assert problems(path, "allocate") == [f"{path}: {problem}"]


def test_invalid_toml_is_one_line_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "allocate.toml", "[[allocate]]\naccount = A001\n")

    (problem,) = problems(path, "allocate")

    assert problem.startswith(f"{path}: invalid TOML: ") and "line 2" in problem


def test_split_shape_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "split.csv",
        "account,to_account,cash_fen,instrument,quantity\n"
        "A001,A002,100,SHEA2025,10\n"
        "A001,A002,200,,\n"
        "A001,A003,,SHEA2025,\n"
        "A001,A003,,,5\n"
        "A001,A004,,,\n"
        "A001,A002,,SHEA2025,3\n",
    )

    assert problems(path, "split") == [
        f"{path}:3: cash_fen: given twice for A001 to A002",
        f"{path}:4: quantity: missing",
        f"{path}:5: instrument: missing (quantity is given)",
        f"{path}:6: nothing to pass on: give cash_fen, or instrument and quantity",
        f"{path}:7: instrument: SHEA2025 named twice for the same part",
    ]


def test_split_toml_shape_errors_name_the_part_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "split.toml",
        '[[split]]\naccount = "A001"\n\n'
        '[[split.part]]\naccount = "A002"\ncash_fen = 1.5\n\n'
        '[[split.part]]\naccount = "A003"\nholdings = [{instrument = "CCER"}]\n\n'
        '[[split]]\naccount = "A101"\n',
    )

    assert problems(path, "split") == [
        f"{path}:4: cash_fen: expected a whole number of fen, got 1.5",
        f"{path}:8: holdings #1: quantity: missing",
        f"{path}:12: part: missing (add [[split.part]] tables)",
    ]


# ---------------------------------------------------------------------------------------------- files


def test_unsupported_extension_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "allocate.xlsx", "")

    assert problems(path, "allocate") == [f"{path}: unsupported file type '.xlsx': use .csv or .toml"]


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    empty = write(tmp_path, "allocate.csv", "account,instrument,quantity\n\n")

    assert problems(tmp_path / "nope.csv", "allocate") == [f"{tmp_path / 'nope.csv'}: no such file"]
    assert problems(empty, "allocate") == [f"{empty}: no rows: nothing to apply"]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "allocate.csv"
    path.write_bytes(b"account,instrument,quantity\nA001,\xb2\xe2\xca\xd4,1\n")  # GBK, as a spreadsheet may save

    (problem,) = problems(path, "allocate")

    assert problem == f"{path}: not UTF-8 text (byte 33)"
