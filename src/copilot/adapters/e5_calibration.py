"""Calibration sentences for the e5-onnx converter's activation smoothing (e5onnx.convert).

The converter measures how large each channel of a matrix product's input gets on these texts,
embedded as queries and as passages, and moves that range into the weights before int8
quantization. They are deliberately about nothing the project ships: public services, travel,
health, schools, shops, software, in Japanese and English, polite and plain, with numbers, codes
and a Q/A pair, so the measured ranges are the model's own and not one knowledge base's.
"""

CALIBRATION: tuple[str, ...] = (
    "会議室の予約は前日の17時までにシステムから行ってください。",
    "The library is closed on public holidays, but the online catalogue stays available.",
    "新しいパスワードは8文字以上で、英字と数字を両方含める必要があります。",
    "If your flight is cancelled, you can rebook at no extra cost within 14 days.",
    "お薬の飲み忘れに気づいたときは、次の服用時間が近ければ1回分を飛ばしてください。",
    "Our warehouse ships orders placed before noon on the same business day.",
    "ゴミの収集日は地域によって異なります。詳しくは市のホームページをご覧ください。",
    "To reset the router, hold the button on the back for ten seconds until the light blinks.",
    "年会費は入会月に関係なく、毎年4月に一括でお支払いいただきます。",
    "Refunds are issued to the original payment method and may take 5–7 business days to appear.",
    "台風の接近により、本日の午後の便はすべて欠航となりました。",
    "Please attach a photo of the damaged item and your order number to the claim form.",
    "申請書に不備があった場合は、担当者からメールでご連絡いたします。",
    "The warranty does not cover damage caused by water, drops or unauthorised repairs.",
    "教室の見学は無料です。ご希望の日時をお電話でお知らせください。",
    "You can change the language of the interface under Settings > Account > Language.",
    "保険証を忘れた場合は、いったん全額を自己負担していただき、後日精算します。",
    "Our support team is available Monday to Friday, 9:00–18:00 JST, except holidays.",
    "配送先の住所変更は、発送準備が始まる前であればマイページから可能です。",
    "Students can borrow up to ten books at a time for a period of two weeks.",
    "エラーコードE-12が表示されたら、電源を切ってから30秒待って再起動してください。",
    "The monthly plan renews automatically; cancel at least one day before the renewal date.",
    "ポイントの有効期限は最終利用日から1年間です。",
    "Q: Can I bring my dog? A: Service animals are welcome; pets must stay in the terrace area.",
)
