"""bidtool's messages in Chinese and English.

bidtool runs on tenderers' own machines, often without the platform's Babel catalogues or a
configured locale, so its few dozen messages live here as plain pairs. The language is chosen once
per run (:func:`choose`): ``--lang``, then ``BIDTOOL_LANG``, otherwise Chinese. The locale (``LANG``
and friends) is deliberately not consulted for English: a zh_CN locale would only confirm the
default, and plenty of Chinese tenderers work on machines set up with an English locale, so English
is used only when asked for.
"""

from __future__ import annotations

import os

__all__ = ["LANGUAGES", "choose", "current", "error_text", "set_language", "t"]

LANGUAGES = ("zh", "en")

_current = "zh"

# key: (zh, en); str.format placeholders are shared.
MESSAGES: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------------------- help texts
    "help.main": (
        "阳光招采投标工具：在本机生成密钥、加密并签名投标文件，校验和解密标书。",
        "SunBid bid tool: make keys, seal and sign bid parts on this machine, verify and open them.",
    ),
    "usage.log_trust": (
        "核对日志证明需要同时给出 --log-key 和至少一个 --witness-key。",
        "Checking the log proof needs --log-key and at least one --witness-key.",
    ),
    "help.exit_codes": (
        "退出码：0 成功；1 校验失败或被拒绝；2 用法错误；3 口令错误；4 读写错误；"
        "5 标书不是加密给所给私钥的；130 被中断。",
        "Exit codes: 0 ok; 1 verification failed or refused; 2 usage error; 3 wrong passphrase; "
        "4 I/O error; 5 the bid is not encrypted to the given identity; 130 interrupted.",
    ),
    "help.lang": (
        "界面语言（zh 或 en）；也可用环境变量 BIDTOOL_LANG。",
        "Language (zh or en); or BIDTOOL_LANG.",
    ),
    "help.progress": (
        "显示或隐藏进度条（默认仅在终端中显示）。",
        "Show or hide progress bars (default: only on a terminal).",
    ),
    "help.version": ("显示版本并退出。", "Show the version and exit."),
    "help.help": ("显示此帮助并退出。", "Show this message and exit."),
    "short.keygen": ("生成加密身份、签名私钥和证书申请。", "Make an identity, a signing key and a CSR."),
    "short.seal": ("加密并签名一个标书分册。", "Seal and sign one bid part."),
    "short.verify": ("校验密文和外层签名。", "Verify a sealed part and its outer signature."),
    "short.open": ("解密、解包并核对一个标书分册。", "Decrypt, unpack and check a sealed part."),
    "short.fingerprint": ("显示本机机器码哈希。", "Show this machine's fingerprint hash."),
    "short.verify_receipt": ("离线校验投标回执。", "Verify a bid receipt offline."),
    "short.verify_draw": ("离线复核专家抽取结果。", "Re-run an expert draw from its proof offline."),
    "short.submit": (
        "向平台递交已加密的投标文件并取得回执。",
        "Submit sealed parts to the platform; get the receipt.",
    ),
    "short.login_sign": (
        "为证书登录签名平台的挑战码。",
        "Sign the platform's challenge for certificate sign-in.",
    ),
    "short.decrypt": ("开标时在线解密自己的投标文件。", "Decrypt your own bid online at the opening."),
    "short.checkpoint": (
        "取平台最新的见证检查点，核对其与本机记住的一致。",
        "Fetch the platform's latest witnessed checkpoint; check it against the one remembered.",
    ),
    "short.custodian": ("开标密钥保管人的操作。", "What opening-key custodians do."),
    "short.release": (
        "开标后释放本人持有的开标密钥分片。",
        "Release your opening-key share after the deadline.",
    ),
    "help.keygen": (
        "在 DIR 中生成加密身份（identity.txt、recipient.txt）、口令保护的签名私钥（signing-key.pem）"
        "和证书申请（signing.csr）。",
        "Create in DIR an age identity (identity.txt, recipient.txt), a passphrase-protected signing "
        "key (signing-key.pem) and a certificate request (signing.csr).",
    ),
    "help.org": ("单位名称（与营业执照一致）。", "Organisation name, as registered."),
    "help.credit_code": ("统一社会信用代码（18 位）。", "Unified social credit code (18 characters)."),
    "help.person": ("经办人姓名（证书 CN）。", "Name of the person holding the key (certificate CN)."),
    "help.passphrase_file": (
        "从文件第一行读取口令（也可用环境变量 BIDTOOL_PASSPHRASE）；否则提示输入。",
        "Read the passphrase from the first line of this file (or set BIDTOOL_PASSPHRASE); "
        "otherwise it is asked for.",
    ),
    "help.seal": (
        "把 SRC（文件或文件夹）封装为一个标书分册 OUT，并写出外层签名 OUT.sig。",
        "Seal SRC (a file or folder) as one bid part OUT and write its outer signature OUT.sig.",
    ),
    "help.to": (
        "接收者：招标项目的开标公钥（age1...），或含公钥的文件；可重复。本人的公钥总会加入。",
        "Recipient: the tender's opening key (age1...) or a file holding it; repeatable. Your own "
        "recipient is always added.",
    ),
    "help.key_dir": ("keygen 生成的密钥目录。", "The key folder made by keygen."),
    "help.cert": ("平台 CA 签发的签名证书（PEM）。", "Your signing certificate from the platform CA (PEM)."),
    "help.tender": ("招标项目编号。", "Tender id."),
    "help.lot": ("标段号。", "Lot number."),
    "help.part": ("分册：资格、技术或商务。", "Part: qualification, technical or commercial."),
    "help.price_sheet": (
        "开标一览表（JSON，金额以分为单位的整数）；商务标必填。",
        "Price sheet (JSON, amounts in integer fen); required for the commercial part.",
    ),
    "help.force": ("覆盖已存在的 OUT 和 OUT.sig。", "Overwrite an existing OUT and OUT.sig."),
    "help.sync": (
        "返回前把 OUT 和 OUT.sig 强制写入磁盘（fsync），适用于随即拔出的移动存储。"
        "默认不强制：断电后未写全的文件会因摘要不符被 verify 和上传拒绝，重新封装即可。",
        "Force OUT and OUT.sig to disk (fsync) before returning, e.g. on a removable disk that will be "
        "pulled out at once. Off by default: after a power cut an incomplete file fails its digest in "
        "verify and at upload, and is sealed again.",
    ),
    "help.verify": (
        "校验 OUT 与其外层签名 OUT.sig：密文摘要、签名、证书链、有效期和吊销状态。",
        "Verify OUT against its outer signature OUT.sig: ciphertext digest, signature, certificate "
        "chain, validity and revocation.",
    ),
    "help.ca": (
        "平台 CA 证书链（PEM，可同时包含 CRL）。",
        "The platform CA chain (PEM; may also hold the CRL).",
    ),
    "help.crl": ("证书吊销列表（PEM 或 DER）。", "Certificate revocation list (PEM or DER)."),
    "help.sig": ("外层签名文件（默认 OUT.sig）。", "Outer signature file (default OUT.sig)."),
    "help.at": (
        "按此时间校验证书（RFC 3339，默认现在）。",
        "Check certificates as of this time (RFC 3339; default now).",
    ),
    "help.expect_tender": ("要求的招标项目编号。", "Refuse unless the tender is this one."),
    "help.expect_lot": ("要求的标段号。", "Refuse unless the lot is this one."),
    "help.expect_part": ("要求的分册。", "Refuse unless the part is this one."),
    "help.open": (
        "解密 OUT 到新文件夹 DEST，安全解包并核对清单和内层签名。",
        "Decrypt OUT into the new folder DEST, unpack it safely, check the manifest and inner signature.",
    ),
    "help.identity": (
        "age 私钥文件（本人的 identity.txt 或开标私钥）。",
        "age identity file (your identity.txt, or the tender's opening key).",
    ),
    "help.fingerprint": (
        "显示本机机器码的哈希（随标书提交的只有此哈希）。",
        "Show this machine's fingerprint hash (only the hash goes into bids).",
    ),
    "help.show": (
        "同时列出参与计算的本机标识（不会上传）。",
        "Also list the identifiers hashed (never sent).",
    ),
    "help.verify_receipt": (
        "用平台回执公钥离线校验投标回执；给出审计日志密钥和见证方密钥时，还核对回执附带的日志证明"
        "（递交已记入见证过的检查点），并与本机记住的最新检查点核对一致。",
        "Verify a bid receipt offline with the platform's receipt public key; with the log's and the "
        "witness's keys, also its log proof (the submission is in a witnessed checkpoint) and the "
        "checkpoint's consistency with the latest one remembered here.",
    ),
    "help.verify_draw": (
        "用平台公布的抽取证明 PROOF（JSON）离线重算专家抽取：核对承诺、专家库快照和回避名单的摘要、"
        "随机种子、抽取顺序和抽中名单。",
        "Re-run an expert draw offline from the proof PROOF (JSON) the platform publishes: the "
        "commitment, the pool and exclusions roots, the seed, the order and the selection.",
    ),
    "help.receipt_key": ("平台回执公钥（PEM）。", "The platform's receipt public key (PEM)."),
    "help.log_key": (
        "审计日志的验证密钥（字符串或文件；由监督部门公布）。",
        "The audit log's verifier key (a string or a file; published by the supervising authority).",
    ),
    "help.witness_key": (
        "见证方的副署公钥（字符串或文件，可重复）；校验时要求其副署。",
        "The witness's cosignature key (a string or a file, repeatable); its cosignature is required.",
    ),
    "help.state": (
        "记住最新检查点的文件（默认 ~/.local/state/bidtool/checkpoints.json 或 BIDTOOL_STATE）。",
        "Where the latest checkpoint seen is remembered (default ~/.local/state/bidtool/checkpoints.json "
        "or BIDTOOL_STATE).",
    ),
    "help.server_consistency": (
        "平台地址：取最新检查点和一致性证明，核对日志没有回滚（可选）。",
        "The platform: fetch the latest checkpoint and consistency proofs to check the log was not rolled "
        "back (optional).",
    ),
    "help.checkpoint": (
        "取平台最新的见证检查点，核对其签名和见证方副署，并与本机记住的检查点核对一致（回滚或分叉时报警）。",
        "Fetch the platform's latest witnessed checkpoint, check its signature and cosignature, and its "
        "consistency with the one remembered here (a rollback or fork is reported loudly).",
    ),
    "help.submit": (
        "用签名证书登录平台（无需密码），逐个上传加密部分及其 .sig 签名文件，递交并保存平台签名的回执。",
        "Sign in with the signing certificate (no password), upload each sealed part with its .sig file, "
        "submit, and keep the platform's signed receipt.",
    ),
    "help.login_sign": (
        "用签名私钥签名网页“数字证书登录”显示的挑战码，输出的登录码粘贴回网页。",
        "Sign the challenge shown on the certificate sign-in page; paste the printed login code back.",
    ),
    "help.server": (
        "平台地址，例如 https://ggzy.example.cn",
        "The platform's address, e.g. https://ggzy.example.cn",
    ),
    "help.submit_part": (
        "部分=加密文件，例如 technical=tech.age（可重复）。",
        "PART=FILE, e.g. technical=tech.age (repeat).",
    ),
    "help.receipt_out": ("回执保存位置。", "Where to save the receipt."),
    "help.decrypt": (
        "开标时用本机私钥解出各部分的文件密钥，只把文件密钥发给平台（私钥不离开本机），平台据此解密并校验。",
        "At the opening, unwrap each part's file key with your identity here and send only the keys; the "
        "platform decrypts and checks the parts (your identity never leaves this machine).",
    ),
    "help.bid_id": ("回执中的投标编号。", "The bid id from your receipt."),
    "help.custodian": ("开标密钥保管人的操作。", "What opening-key custodians do."),
    "help.release": (
        "开标开始后，用本机的保管人私钥解开平台保存的密钥分片并释放给平台；分片须与发布时公示的摘要一致。",
        "Once the opening has started, open your sealed share with your custodian identity here and "
        "release it; it must match the hash published with the tender.",
    ),
    "help.token": ("平台 API 令牌（账号设置中创建）。", "Your API token (created in account settings)."),
    "help.identity_file": ("保管人私钥文件 identity.txt。", "Your custodian identity.txt."),
    "release.ok": ("已释放 {role} 分片。", "Released the {role} share."),
    "help.receipt_bid": (
        "同时核对此密文文件是否在回执中（可重复）。",
        "Also check that this sealed file is the one in the receipt (repeatable).",
    ),
    # ---------------------------------------------------------------------------------- prompts
    "prompt.passphrase": ("签名私钥口令", "Signing key passphrase"),
    "prompt.new_passphrase": ("为签名私钥设置口令", "New passphrase for the signing key"),
    "prompt.repeat": ("再次输入口令", "Repeat the passphrase"),
    # ----------------------------------------------------------------------------------- output
    "progress.seal": ("加密封装", "Sealing"),
    "progress.verify": ("计算摘要", "Hashing"),
    "progress.open": ("解密解包", "Opening"),
    "keygen.done": ("已在 {dir} 生成密钥：", "Keys created in {dir}:"),
    "keygen.recipient": ("加密公钥（recipient）：{recipient}", "Encryption recipient: {recipient}"),
    "keygen.next": (
        "下一步：把 signing.csr 提交平台申请签名证书；妥善备份 identity.txt 和 signing-key.pem。",
        "Next: submit signing.csr to the platform for your signing certificate; back up identity.txt "
        "and signing-key.pem safely.",
    ),
    "seal.done": ("已封装 {count} 个文件到 {out}", "Sealed {count} files into {out}"),
    "seal.signature": ("外层签名：{sig}", "Outer signature: {sig}"),
    "part.qualification": ("资格标", "qualification"),
    "part.technical": ("技术标", "technical"),
    "part.commercial": ("商务标", "commercial"),
    "label.tender": ("招标项目", "Tender"),
    "label.lot": ("标段", "Lot"),
    "label.part": ("分册", "Part"),
    "label.tenderer": ("投标人", "Tenderer"),
    "label.sha256": ("密文 SHA-256", "Ciphertext SHA-256"),
    "label.size": ("密文大小", "Ciphertext size"),
    "label.recipients": ("接收者数", "Recipients"),
    "label.signer": ("签名证书", "Signing certificate"),
    "label.signed_at": ("签名时间（签名者声明）", "Signed at (signer's claim)"),
    "label.assurance": ("证书校验", "Certificate check"),
    "label.created_at": ("制作时间", "Created at"),
    "label.tool": ("制作工具", "Made with"),
    "label.machine": ("机器码哈希", "Machine fingerprint"),
    "label.files": ("文件", "Files"),
    "label.price_sheet": ("开标一览表", "Price sheet"),
    "label.total": ("投标总价", "Total price"),
    "label.duration": ("工期/交货期", "Duration"),
    "label.validity": ("投标有效期", "Bid validity"),
    "label.warranty": ("质保期", "Warranty"),
    "label.quality": ("质量", "Quality"),
    "label.manager": ("项目负责人", "Project manager"),
    "label.remarks": ("备注", "Remarks"),
    "label.days": ("{n} 天", "{n} days"),
    "label.bytes": ("{n} 字节", "{n} bytes"),
    "assurance.full": ("完整（证书链、有效期、吊销）", "full (chain, validity, revocation)"),
    "assurance.no_revocation": (
        "证书链和有效期（未检查吊销）",
        "chain and validity (revocation NOT checked)",
    ),
    "assurance.signature_only": (
        "仅签名本身（未校验证书链）",
        "signature only (certificate chain NOT checked)",
    ),
    "verify.ok": ("外层签名有效：{out}", "Outer signature valid: {out}"),
    "open.ok": ("已解密并核对：{dest}", "Opened and checked: {dest}"),
    "warn.proof_unchecked": (
        "注意：未核对日志证明（给出 --log-key 和 --witness-key 才能证明平台记录了这次递交且不能回滚）。",
        "Note: the log proof was not checked (give --log-key and --witness-key to prove that the platform "
        "logged this submission and cannot roll it back).",
    ),
    "warn.commitment_only": (
        "注意：回执没有附带封存条目的内容，只核对了承诺。",
        "Note: the receipt carries no sealed content; only the commitment was checked.",
    ),
    "warn.no_crl": (
        "警告：未提供 CRL，未检查证书吊销状态。",
        "Warning: no CRL given, so revocation was not checked.",
    ),
    "warn.no_ca": (
        "警告：未提供 --ca，只验证了签名本身，签名者身份未经平台 CA 确认。",
        "Warning: no --ca given: only the signature itself was checked, the signer's identity is not "
        "confirmed by the platform CA.",
    ),
    "fingerprint.value": ("机器码哈希：{value}", "Machine fingerprint: {value}"),
    "receipt.ok": ("回执有效：", "Receipt valid:"),
    "decrypt.opened": ("已解密", "decrypted"),
    "decrypt.already_opened": ("此前已解密（未再次解密）", "already decrypted earlier (not decrypted again)"),
    "decrypt.failed": ("解密失败", "failed"),
    "decrypt.not_sent": ("未解密（本次未发送此分册的密钥）", "not decrypted (no key sent for it this time)"),
    "decrypt.platform_fault": (
        "（平台过错：开标结束时按撤回处理并退还保证金）",
        "(the platform's fault: at the closing the bid counts as withdrawn and the deposit is refunded)",
    ),
    "log.included": ("审计日志", "Audit log"),
    "log.included_in": (
        "第 {index} 条，包含在共 {size} 条的见证检查点中",
        "entry {index}, included in the witnessed checkpoint of {size} entries",
    ),
    "log.cosigned": ("见证方副署", "Cosigned by"),
    "log.memory": ("与本机记住的检查点相比", "Against the checkpoint remembered here"),
    "log.seen_first": ("首次记住（{new} 条）", "remembered for the first time ({new} entries)"),
    "log.seen_same": ("一致（{new} 条）", "the same ({new} entries)"),
    "log.seen_newer": (
        "一致，日志已从 {old} 条增长到 {new} 条",
        "consistent: grew from {old} to {new} entries",
    ),
    "log.seen_older": (
        "一致（较早的检查点，{new} 条 ≤ {old} 条）",
        "consistent (an earlier one: {new} ≤ {old} entries)",
    ),
    "log.unchecked": (
        "注意：本机记住的检查点为 {old} 条，这个为 {new} 条；没有 --server，无法核对两者一致。",
        "Note: the checkpoint remembered here has {old} entries, this one {new}; without --server their "
        "consistency cannot be checked.",
    ),
    "log.alarm": (
        "！！！警告：审计日志被回滚或篡改。请保存本回执和检查点文件，立即报告监督部门。！！！",
        "!!! WARNING: the audit log was rolled back or tampered with. Keep this receipt and the checkpoint "
        "file, and report it to the supervising authority at once. !!!",
    ),
    "log.checkpoint_ok": ("见证检查点有效：{size} 条", "Witnessed checkpoint valid: {size} entries"),
    "draw.ok": ("抽取证明有效，重算结果一致：", "Draw proof valid; re-running it gives the same result:"),
    "draw.id": ("抽取编号", "Draw id"),
    "draw.commitment": ("平台承诺", "Platform commitment"),
    "draw.audit_index": ("承诺所在审计日志序号", "Audit log index of the commitment"),
    "draw.seed": ("随机种子", "Seed"),
    "draw.selected": (
        "专业 {specialty}：从 {pool} 名合格专家中依次抽中 {n} 名",
        "Specialty {specialty}: {n} drawn in order from {pool} eligible experts",
    ),
    "submit.uploading": ("上传 {part}", "Uploading {part}"),
    "submit.ok": ("已递交，回执已保存到 {path}", "Submitted; the receipt is saved in {path}"),
    "decrypt.result": ("{part}：{status}", "{part}: {status}"),
    "receipt.bid_id": ("投标编号", "Bid id"),
    "receipt.received_at": ("接收时间", "Received at"),
    "receipt.audit_index": ("审计日志序号", "Audit log index"),
    "receipt.part_ok": ("{path}：与回执中的 {part} 一致", "{path}: matches {part} in the receipt"),
    # ------------------------------------------------------------------------------- usage errors
    "usage.bad_recipient": ("无效的接收者：{value}", "Not a recipient or a file of recipients: {value}"),
    "usage.no_opening_key": (
        "--to 必须给出招标项目的开标公钥（不同于本人的公钥）",
        "--to must name the tender's opening key (not only your own recipient)",
    ),
    "usage.price_sheet_needed": ("商务标必须提供 --price-sheet", "The commercial part needs --price-sheet"),
    "usage.price_sheet_only_commercial": (
        "只有商务标才能带 --price-sheet",
        "--price-sheet belongs to the commercial part only",
    ),
    "usage.bad_credit_code": (
        "不是有效的统一社会信用代码：{value}",
        "Not a valid unified social credit code: {value}",
    ),
    "usage.bad_tender": (
        "招标项目编号只能包含字母、数字和 . _ : -",
        "A tender id holds letters, digits and . _ : - only",
    ),
    "usage.bad_time": ("不是带时区的 RFC 3339 时间：{value}", "Not an RFC 3339 time with an offset: {value}"),
    "usage.empty_passphrase": ("口令不能为空", "The passphrase must not be empty"),
    "usage.bad_ca": ("CA 文件中没有证书：{value}", "No certificate in the CA file: {value}"),
    # ----------------------------------------------------------------------------------- errors
    "error.prefix": ("错误", "Error"),
    "error.detail": ("详情", "Detail"),
    "error.interrupted": ("已中断", "Interrupted"),
    "error.wrong_passphrase": (
        "口令错误，无法解开签名私钥",
        "Wrong passphrase: the signing key cannot be decrypted",
    ),
    "error.io": ("读写文件失败", "Reading or writing a file failed"),
    "error.output_exists": ("目标已存在，不会覆盖", "The output already exists and will not be overwritten"),
    "error.bid_error": ("标书被拒绝", "The bid was refused"),
    "error.bid_source_unsupported": (
        "待封装的内容不允许：只能是普通文件，不能有链接、设备或不可移植的文件名",
        "The content cannot be sealed: only regular files, no links, devices or unportable names",
    ),
    "error.bid_source_changed": ("封装过程中文件被修改", "A file changed while it was being sealed"),
    "error.bid_price_sheet_invalid": ("开标一览表无效", "The price sheet is invalid"),
    "error.bid_tar_unsafe": (
        "标书包含不安全的内容（绝对路径、..、链接或重名），已拒绝解包",
        "The bid holds unsafe entries (absolute paths, '..', links or duplicates): not unpacked",
    ),
    "error.bid_tar_invalid": ("标书的打包格式不正确", "The bid's tar layout is invalid"),
    "error.bid_manifest_invalid": (
        "标书清单（manifest.json）无效",
        "The bid manifest (manifest.json) is invalid",
    ),
    "error.bid_manifest_mismatch": (
        "标书中的文件与清单不一致",
        "The files in the bid do not match its manifest",
    ),
    "error.bid_signature_invalid": ("签名无效", "The signature is invalid"),
    "error.bid_signer_mismatch": (
        "签名者与标书所列投标人不一致",
        "The signer is not the tenderer the bid names",
    ),
    "error.bid_ciphertext_mismatch": (
        "密文文件与签名不符（被修改、截断或替换）",
        "The sealed file is not the one that was signed (altered, truncated or swapped)",
    ),
    "error.file_too_large": (
        "密封文件超过平台可接收的大小（每个分册最多 4 GiB）：请精简或压缩投标文件后重新密封",
        "The sealed part is larger than the platform takes (4 GiB per part): trim or compress the"
        " bid files and seal again",
    ),
    "error.bid_part_mismatch": (
        "招标项目、标段或分册与预期不符",
        "Tender, lot or part differ from what was expected",
    ),
    "error.bid_envelope_invalid": (
        "密文必须同时加密给开标公钥和投标人本人",
        "The envelope must be sealed to the opening key and to the tenderer",
    ),
    "error.bid_key_mismatch": (
        "签名私钥与证书（或加密私钥与公钥）不匹配",
        "The signing key does not match the certificate (or the identity its recipient)",
    ),
    "error.no_matching_identity": (
        "此标书不是加密给所给私钥的",
        "The bid is not encrypted to the given identity",
    ),
    "error.header_mac_mismatch": (
        "密文头校验失败（被篡改或密钥错误）",
        "The envelope header fails its check (tampered or wrong key)",
    ),
    "error.payload_corrupted": ("密文已损坏或被篡改", "The encrypted content is corrupted or tampered with"),
    "error.payload_truncated": ("密文被截断", "The encrypted content is truncated"),
    "error.trailing_data": ("密文末尾有多余数据", "Unexpected data after the encrypted content"),
    "error.malformed_header": ("不是有效的 age 加密文件", "Not a valid age-encrypted file"),
    "error.unsupported_version": ("不支持的 age 格式版本", "Unsupported age format version"),
    "error.bad_key_encoding": ("密钥格式无效", "Not a valid key"),
    "error.age_error": ("解密失败", "Decryption failed"),
    "error.certificate_error": ("证书无效", "The certificate is invalid"),
    "error.certificate_expired": (
        "证书已过期（或尚在校验时间之后失效）",
        "The certificate had expired at the time checked",
    ),
    "error.certificate_not_yet_valid": (
        "证书在校验时间尚未生效",
        "The certificate was not yet valid at the time checked",
    ),
    "error.certificate_revoked": ("证书已被吊销", "The certificate has been revoked"),
    "error.certificate_untrusted": (
        "证书不是平台 CA 签发的",
        "The certificate was not issued by the platform CA",
    ),
    "error.certificate_wrong_profile": (
        "证书用途不符（需要投标人签名证书）",
        "Wrong kind of certificate (a tenderer signing certificate is needed)",
    ),
    "error.crl_invalid": (
        "CRL 无效、不是本 CA 签发的或已过期",
        "The CRL is invalid, from another CA, or out of date",
    ),
    "error.csr_invalid": ("证书申请无效", "The certificate request is invalid"),
    "error.unsupported_key": ("不支持的密钥类型", "Unsupported key type"),
    "error.signature_error": ("签名无效", "The signature is invalid"),
    "error.signature_invalid": ("签名无效", "The signature is invalid"),
    "error.signature_malformed": ("签名格式错误", "The signature is malformed"),
    "error.receipt_error": ("回执无效", "The receipt is invalid"),
    "error.receipt_malformed": ("回执格式错误", "The receipt is malformed"),
    "error.receipt_signature_invalid": ("回执签名无效", "The receipt signature is invalid"),
    "error.receipt_wrong_key": ("回执不是用所给公钥签名的", "The receipt was signed with another key"),
    "error.receipt_key_invalid": ("回执公钥无效", "The receipt public key is invalid"),
    "error.receipt_bid_mismatch": ("该密文文件不在回执中", "This sealed file is not in the receipt"),
    "error.proof_malformed": ("抽取证明格式错误", "The draw proof is malformed"),
    "error.log_proof_malformed": (
        "日志证明格式错误，或回执中还没有日志证明（请稍后从平台重新获取回执）",
        "The log proof is malformed, or the receipt has none yet (fetch the receipt again later)",
    ),
    "error.proof_invalid": ("日志证明无效", "The log proof is invalid"),
    "error.checkpoint_not_signed": (
        "检查点不是审计日志密钥签名的",
        "The checkpoint is not signed by the log's key",
    ),
    "error.checkpoint_not_witnessed": (
        "检查点没有见证方的有效副署：不能排除日志被回滚",
        "The checkpoint has no valid cosignature from the witness: a rollback cannot be ruled out",
    ),
    "error.inclusion_proof_invalid": (
        "包含证明不成立：该条目不在检查点中",
        "The entry is not in the checkpoint",
    ),
    "error.sealed_content_mismatch": (
        "封存条目的内容与其承诺或回执不符",
        "The sealed entry's content does not match its commitment or the receipt",
    ),
    "error.log_rolled_back": (
        "审计日志被回滚：平台现在的日志比本机已见过的检查点短",
        "The audit log was rolled back: the platform now shows fewer entries than a checkpoint already seen",
    ),
    "error.log_forked": (
        "审计日志出现分叉：两个检查点不可能属于同一份日志",
        "The audit log forked: two checkpoints that cannot both be its history",
    ),
    "error.stored_part_altered": (
        "平台保存的密文与回执不符：这是平台的过错，不是投标人的",
        "The stored envelope is not the one receipted: the platform's fault, not the tenderer's",
    ),
    "error.bid_not_decrypted": ("有分册未能解密", "Some parts are not decrypted"),
    "error.draw_commitment_mismatch": (
        "公开的平台密钥与事先记录的承诺不符",
        "The revealed secret does not match the logged commitment",
    ),
    "error.draw_pool_mismatch": (
        "专家库快照与事先记录的摘要不符",
        "The pool snapshot does not match its logged root",
    ),
    "error.draw_exclusions_mismatch": (
        "回避名单与事先记录的摘要不符",
        "The exclusions list does not match its logged root",
    ),
    "error.draw_excluded_in_pool": ("被回避的专家出现在抽取范围中", "An excluded expert is in the pool"),
    "error.draw_seed_mismatch": ("随机种子与输入不符", "The seed does not follow from the inputs"),
    "error.draw_order_mismatch": ("抽取顺序与重算结果不同", "The order differs from the re-run"),
    "error.draw_selection_mismatch": ("抽中名单与重算结果不同", "The selection differs from the re-run"),
}


def set_language(lang: str) -> None:
    global _current
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    _current = lang


def current() -> str:
    return _current


def choose(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    for value in (explicit, env.get("BIDTOOL_LANG")):
        if value:
            lowered = value.lower()
            for lang in LANGUAGES:
                if lowered.startswith(lang):
                    return lang
    return "zh"


def t(key: str, **values: object) -> str:
    zh, en = MESSAGES[key]
    text = en if _current == "en" else zh
    return text.format(**values) if values else text


def error_text(code: str) -> str:
    """The message for an error code; unknown codes fall back to their family's general message."""
    key = f"error.{code}"
    if key in MESSAGES:
        return t(key)
    for prefix, family in (("bid_", "error.bid_error"), ("certificate_", "error.certificate_error")):
        if code.startswith(prefix):
            return t(family)
    return t("error.bid_error")
