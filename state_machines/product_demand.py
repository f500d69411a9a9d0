"""Product demand: customers ask for a product the company does not sell. Sales passes the
demand to purchasing, which finds a supplier, a price and a lead time; the commercial director
decides whether the product joins the assortment."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "product_demand",
        "label": {"ru": "Спрос на новый товар", "en": "Demand for a new product", "pl": "Popyt na nowy produkt"},
        "description": {
            "ru": "Продажи передают в закупки спрос клиентов на товары, которых нет в ассортименте.",
            "en": "Sales passes customers' demand for products outside the assortment to purchasing.",
            "pl": "Sprzedaż przekazuje zakupom popyt klientów na produkty spoza asortymentu.",
        },
        "definitions": [
            {
                "term": {"ru": "Спрос на новый товар", "en": "Demand for a new product",
                         "pl": "Popyt na nowy produkt"},
                "definition": {
                    "ru": "Спрос на новый товар — это запрос клиента на товар, которого нет в ассортименте "
                    "компании. Менеджер по продажам фиксирует товар, клиента и ожидаемый объём закупки. "
                    "Закупки находят поставщика, закупочную цену и срок поставки. Решение о вводе товара "
                    "в ассортимент принимает коммерческий директор.",
                    "en": "Demand for a new product is a customer's request for a product the company does not "
                    "sell. The sales manager records the product, the customer and the expected volume. "
                    "Purchasing finds a supplier, a purchase price and a lead time. The commercial director "
                    "decides whether the product joins the assortment.",
                    "pl": "Popyt na nowy produkt to prośba klienta o produkt, którego firma nie sprzedaje. "
                    "Handlowiec zapisuje produkt, klienta i oczekiwany wolumen. Zakupy znajdują dostawcę, "
                    "cenę zakupu i czas dostawy. Dyrektor handlowy decyduje, czy produkt wejdzie do "
                    "asortymentu.",
                },
            }
        ],
        "requester": "sales",
        "performer": "purchasing",
        "initial": "evaluation",
        "open_requires": ["customer", "product", "expected_volume"],
        "target": "40h",
        "escalation": {
            "levels": [
                {"after": "8h", "notify": ["department_head"]},
                {"after": "16h", "notify": ["head_manager", "director"]},
            ],
        },
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "product": {"label": {"ru": "Товар", "en": "Product", "pl": "Produkt"}},
            "expected_volume": {"label": {
                "ru": "Ожидаемый объём", "en": "Expected volume", "pl": "Oczekiwany wolumen"
            }},
            "supplier": {"label": {"ru": "Поставщик", "en": "Supplier", "pl": "Dostawca"}},
            "purchase_price": {"label": {"ru": "Закупочная цена", "en": "Purchase price", "pl": "Cena zakupu"}},
            "lead_time": {"label": {"ru": "Срок поставки", "en": "Lead time", "pl": "Czas dostawy"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "decision": {"label": {"ru": "Решение", "en": "Decision", "pl": "Decyzja"}},
        },
        "states": {
            "evaluation": {
                "label": {"ru": "Поиск поставщика", "en": "Finding a supplier", "pl": "Szukanie dostawcy"},
                "department": "purchasing",
                "role": "buyer",
                "target": "16h",
            },
            "decision": {
                "label": {"ru": "Решение о вводе в ассортимент", "en": "Assortment decision",
                          "pl": "Decyzja o asortymencie"},
                "department": "commercial",
                "role": "head",
                "target": "8h",
            },
            "listed": {"label": {"ru": "Введён в ассортимент", "en": "Added to the assortment",
                                 "pl": "Dodano do asortymentu"}, "terminal": True},
            "declined": {"label": {"ru": "Не вводим", "en": "Declined", "pl": "Odrzucono"}, "terminal": True},
        },
        "transitions": [
            {"trigger": "evaluated",
             "label": {"ru": "Оценка готова", "en": "Evaluated", "pl": "Ocena gotowa"},
             "source": "evaluation", "dest": "decision", "allowed": ["purchasing"],
             "requires": ["supplier", "purchase_price", "lead_time"]},
            {"trigger": "not_available",
             "label": {"ru": "Закупить нельзя", "en": "Not available", "pl": "Niedostępny"},
             "source": "evaluation", "dest": "declined", "allowed": ["purchasing"],
             "requires": ["reason"]},
            {"trigger": "approve",
             "label": {"ru": "Одобрить", "en": "Approve", "pl": "Zatwierdź"},
             "source": "decision", "dest": "listed", "allowed": ["commercial/head"],
             "requires": ["decision"]},
            {"trigger": "decline",
             "label": {"ru": "Отказать", "en": "Decline", "pl": "Odmów"},
             "source": "decision", "dest": "declined", "allowed": ["commercial/head"],
             "requires": ["reason"]},
        ],
    }
)
