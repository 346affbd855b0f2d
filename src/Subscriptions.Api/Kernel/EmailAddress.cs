using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using MimeKit;

namespace Subscriptions.Api.Kernel;

/// <summary>
/// The mailbox profile this service accepts: an RFC 5321 dot-atom local part (UTF-8 allowed,
/// RFC 6531) at a domain name (IDN allowed) whose labels do not mix scripts, with no invisible
/// characters anywhere, that MimeKit can parse. Quoted local parts, address literals, comments
/// and display names are refused: real signups never need them and they are how abuse gets in.
/// </summary>
/// <remarks>
/// Written here because no maintained .NET validator with this profile is served to us
/// (EmailValidation by MimeKit's author is not on the NuGet mirror); IDNA itself is the
/// runtime's <see cref="IdnMapping"/> (ICU's UTS #46), not ours.
/// </remarks>
public static class EmailAddress
{
    public const int MaxLength = 254;
    const int MaxLocalPartOctets = 64;
    const int MaxLabelLength = 63;

    static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };
    static readonly SearchValues<char> AsciiAtext = SearchValues.Create(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~");

    /// <summary>
    /// Validates what a person typed (surrounding whitespace trimmed, as browsers do) and returns
    /// the normalized address that decides uniqueness: Unicode NFC, lower case, and the domain
    /// in its ASCII (punycode) form.
    /// </summary>
    public static bool TryNormalize(string? input, [NotNullWhen(true)] out string? normalized)
    {
        normalized = null;
        if (string.IsNullOrWhiteSpace(input) || input.Length > 4 * MaxLength)
        {
            return false;
        }

        string address;
        try
        {
            address = input.Trim().Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return false; // lone surrogates cannot be normalized
        }

        // IDNA silently deletes some invisible characters (a zero-width space in the domain) and
        // the address as typed would keep them; bidi controls make an address read other than
        // it is. None belongs in an address a person types.
        if (address.EnumerateRunes().Any(IsInvisible))
        {
            return false;
        }

        var at = address.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != address.LastIndexOf('@'))
        {
            return false;
        }

        var local = address[..at];
        if (!IsDotAtom(local) || Encoding.UTF8.GetByteCount(local) > MaxLocalPartOctets)
        {
            return false;
        }

        if (!TryToAsciiDomain(address[(at + 1)..], out var domain))
        {
            return false;
        }

        var result = $"{local.ToLowerInvariant()}@{domain}";
        if (Encoding.UTF8.GetByteCount(result) > MaxLength)
        {
            return false;
        }

        // The dispatcher hands the address as typed to MimeKit: one it could not parse would be
        // dead-lettered after the reader had been told to check their inbox.
        if (!MailboxAddress.TryParse(address, out _))
        {
            return false;
        }

        normalized = result;
        return true;
    }

    static bool IsDotAtom(string local)
    {
        if (local.StartsWith('.') || local.EndsWith('.') || local.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var rune in local.EnumerateRunes())
        {
            if (rune.IsAscii ? rune.Value != '.' && !AsciiAtext.Contains((char)rune.Value) : !IsMailboxText(rune))
            {
                return false;
            }
        }

        return true;
    }

    // Non-ASCII characters allowed by RFC 6532 in an unquoted local part: anything printable.
    static bool IsMailboxText(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator => false,
        _ => rune.Value != 0xFFFD,
    };

    // Unicode's Default_Ignorable_Code_Point: the format characters (Cf, among them every bidi
    // control, U+200B, U+00AD, U+FEFF) and the few other characters that render as nothing.
    static bool IsInvisible(Rune rune) => Rune.GetUnicodeCategory(rune) == UnicodeCategory.Format || rune.Value is
        0x034F or 0x115F or 0x1160 or 0x17B4 or 0x17B5 or (>= 0x180B and <= 0x180F) or (>= 0x2060 and <= 0x206F)
        or 0x3164 or (>= 0xFE00 and <= 0xFE0F) or 0xFFA0 or (>= 0xFFF0 and <= 0xFFF8) or (>= 0xE0000 and <= 0xE0FFF);

    static bool IsIdna2008LetterDigit(Rune rune) => rune.Value is '-' or '.' || Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.LowercaseLetter or UnicodeCategory.UppercaseLetter or UnicodeCategory.OtherLetter
        or UnicodeCategory.ModifierLetter or UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;

    static bool TryToAsciiDomain(string domain, [NotNullWhen(true)] out string? ascii)
    {
        ascii = null;
        if (domain.Length == 0 || domain.StartsWith('['))
        {
            return false; // address literals are not mailboxes a newsletter should write to
        }

        try
        {
            ascii = Idn.GetAscii(domain).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return false; // IDNA refused it: disallowed code points, empty labels, bad hyphens, bidi rules
        }

        // UTS #46 still lets through symbols that IDNA2008 disallows (©, ♥): RFC 5892 admits
        // only letters, marks and digits in a U-label. A label that mixes scripts (a Cyrillic
        // "а" among Latin letters) is how a lookalike of another domain is made.
        var unicode = Idn.GetUnicode(ascii);
        if (!unicode.EnumerateRunes().All(IsIdna2008LetterDigit)
            || !unicode.Split('.').All(label => DomainLabelScripts.IsModeratelyRestrictive(label)))
        {
            return false;
        }

        var labels = ascii.Split('.');
        if (labels.Length < 2 || ascii.Length > MaxLength)
        {
            return false;
        }

        foreach (var label in labels)
        {
            if (label.Length is 0 or > MaxLabelLength)
            {
                return false;
            }
        }

        // A numeric top-level label means an IP address or a typo, never a mailbox domain.
        return !labels[^1].All(char.IsAsciiDigit);
    }
}
