package emails

import "strings"

// Mail clients drop <style> elements and external stylesheets, so every style of an
// email must be inline. Writing the same style attributes into every paragraph of thirty
// templates would bury their words, so templates write bare tags and the renderer gives
// them the house style after rendering. Data cannot fake a tag: html/template has escaped
// every "<" of it by then.

// fontStack is the body font: each client's system font.
const fontStack = `-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif`

// inlineStyles gives the bare tags of a rendered HTML email their inline styles. Each
// tag is matched exactly as a template writes it ("<a href=" stands for every link); a tag
// written with attributes of its own is left alone, so a template that wants another look
// writes its own style attribute.
func inlineStyles(html, accent string) string {
	const text = `font-family:` + fontStack + `;font-size:16px;line-height:24px;color:#1f2937;`
	const cell = `font-family:` + fontStack + `;font-size:14px;line-height:20px;`
	return strings.NewReplacer(
		"<h1>", `<h1 style="margin:0 0 16px 0;font-family:`+fontStack+`;font-size:22px;line-height:30px;font-weight:700;color:#111827;">`,
		"<p>", `<p style="margin:0 0 16px 0;`+text+`">`,
		"<ul>", `<ul style="margin:0 0 16px 0;padding:0 0 0 24px;`+text+`">`,
		"<ol>", `<ol style="margin:0 0 16px 0;padding:0 0 0 24px;`+text+`">`,
		"<li>", `<li style="margin:0 0 8px 0;">`,
		"<table>", `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;margin:0 0 24px 0;border-collapse:collapse;border-top:1px solid #e5e7eb;">`,
		"<th>", `<th align="left" valign="top" style="width:40%;padding:10px 12px 10px 0;border-bottom:1px solid #e5e7eb;`+cell+`font-weight:400;color:#6b7280;text-align:left;">`,
		"<td>", `<td valign="top" style="padding:10px 0;border-bottom:1px solid #e5e7eb;`+cell+`font-weight:600;color:#111827;word-break:break-word;">`,
		"<a href=", `<a style="color:`+accent+`;text-decoration:underline;" href=`,
	).Replace(html)
}
