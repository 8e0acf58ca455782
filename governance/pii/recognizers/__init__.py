"""Our recognizers, one per file, in Presidio's shape: patterns, context words, validation.

``RECOGNIZERS`` maps the class names that ``analyzer.yaml`` lists under
``custom_recognizers`` to the classes.
"""

from __future__ import annotations

from governance.pii.recognizers.credit_card import CrmCreditCardRecognizer
from governance.pii.recognizers.crm_customer_id import CrmCustomerIdRecognizer
from governance.pii.recognizers.crm_order_number import CrmOrderNumberRecognizer
from governance.pii.recognizers.email import CrmEmailRecognizer
from governance.pii.recognizers.eu_vat import EuVatRecognizer
from governance.pii.recognizers.iban import CrmIbanRecognizer
from governance.pii.recognizers.person_name import PersonNameRecognizer
from governance.pii.recognizers.phone import CrmPhoneRecognizer
from governance.pii.recognizers.url import CrmUrlRecognizer

RECOGNIZERS = {
    cls.__name__: cls
    for cls in (
        CrmCreditCardRecognizer,
        CrmCustomerIdRecognizer,
        CrmEmailRecognizer,
        CrmIbanRecognizer,
        CrmOrderNumberRecognizer,
        CrmPhoneRecognizer,
        CrmUrlRecognizer,
        EuVatRecognizer,
        PersonNameRecognizer,
    )
}

# Identifier formats of the CRM itself: a span they claim is not a phone or card number.
CRM_IDENTIFIERS = frozenset({CrmOrderNumberRecognizer.ENTITY, CrmCustomerIdRecognizer.ENTITY})

__all__ = ["CRM_IDENTIFIERS", "RECOGNIZERS"]
