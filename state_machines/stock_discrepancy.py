"""Stock discrepancy: the system shows stock the shelf does not have (or the other way round).
The warehouse recounts; a confirmed difference goes to accounting for the correcting document;
a recount that matches the system closes the case."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "stock_discrepancy",
        "label": {"ru": "Расхождение остатков", "en": "Stock discrepancy", "pl": "Rozbieżność stanów"},
        "description": {
            "ru": "Остаток в системе не совпадает с фактическим: склад пересчитывает, бухгалтерия корректирует.",
            "en": "The stock in the system differs from the shelf: the warehouse recounts, accounting corrects.",
            "pl": "Stan w systemie różni się od faktycznego: magazyn liczy ponownie, księgowość koryguje.",
        },
        "definitions": [
            {
                "term": {"ru": "Расхождение остатков", "en": "Stock discrepancy", "pl": "Rozbieżność stanów"},
                "definition": {
                    "ru": "Расхождение остатков — это разница между количеством товара в учётной системе и на "
                    "полке склада. Менеджер по продажам открывает случай, когда не может отгрузить то, что "
                    "система показывает в наличии. Склад пересчитывает позицию и записывает фактическое "
                    "количество. Подтверждённое расхождение бухгалтерия закрывает документом списания или "
                    "оприходования.",
                    "en": "A stock discrepancy is a difference between the quantity of a product in the "
                    "accounting system and on the warehouse shelf. A sales manager opens a case when they "
                    "cannot ship what the system shows as available. The warehouse recounts the item and "
                    "records the actual quantity. Accounting closes a confirmed difference with a write-off "
                    "or a receipt document.",
                    "pl": "Rozbieżność stanów to różnica między ilością towaru w systemie a na półce magazynu. "
                    "Handlowiec otwiera sprawę, gdy nie może wysłać tego, co system pokazuje jako dostępne. "
                    "Magazyn ponownie liczy pozycję i zapisuje faktyczną ilość. Potwierdzoną różnicę "
                    "księgowość zamyka dokumentem rozchodu lub przychodu.",
                },
            }
        ],
        "requester": "sales",
        "performer": "warehouse",
        "initial": "recount",
        "open_requires": ["sku", "system_qty", "reason"],
        "target": "16h",
        "escalation": {
            "levels": [
                {"after": "2h", "notify": ["department_head"]},
                {"after": "8h", "notify": ["head_manager"], "reassign_to": "head"},
                {"after": "16h", "notify": ["director"]},
            ],
        },
        "fields": {
            "sku": {"label": {"ru": "Артикул", "en": "SKU", "pl": "Indeks"}},
            "system_qty": {"label": {"ru": "Остаток в учёте", "en": "Quantity in the books", "pl": "Stan w ewidencji"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "actual_qty": {"label": {"ru": "Фактический остаток", "en": "Actual quantity", "pl": "Stan faktyczny"}},
            "document": {"label": {"ru": "Ссылка на документ", "en": "Document link", "pl": "Link do dokumentu"}},
        },
        "states": {
            "recount": {
                "label": {"ru": "Пересчёт на складе", "en": "Warehouse recount", "pl": "Ponowne liczenie"},
                "department": "warehouse",
                "role": "storekeeper",
                "target": "4h",
            },
            "correction": {
                "label": {"ru": "Корректировка в учёте", "en": "Correcting the books", "pl": "Korekta w ewidencji"},
                "department": "accounting",
                "role": "accountant",
                "target": "8h",
            },
            "corrected": {"label": {"ru": "Остаток исправлен", "en": "Stock corrected", "pl": "Stan poprawiony"},
                          "terminal": True},
            "matches": {"label": {"ru": "Расхождения нет", "en": "No discrepancy", "pl": "Brak rozbieżności"},
                        "terminal": True},
        },
        "transitions": [
            {"trigger": "confirm",
             "label": {
                 "ru": "Расхождение подтверждено", "en": "Confirm the discrepancy", "pl": "Potwierdź rozbieżność"
             },
             "source": "recount", "dest": "correction", "allowed": ["warehouse"],
             "requires": ["actual_qty"]},
            {"trigger": "no_discrepancy",
             "label": {"ru": "Расхождения нет", "en": "No discrepancy", "pl": "Brak rozbieżności"},
             "source": "recount", "dest": "matches", "allowed": ["warehouse"],
             "requires": ["actual_qty"]},
            {"trigger": "corrected",
             "label": {"ru": "Учёт исправлен", "en": "Books corrected", "pl": "Ewidencja poprawiona"},
             "source": "correction", "dest": "corrected", "allowed": ["accounting"],
             "requires": ["document"]},
        ],
    }
)
